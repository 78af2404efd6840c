/** Tag that marks the EBS data volume for the snapshot schedule (value: the stack). */
export const SNAPSHOT_TAG = "panopticon:snapshots";

/** Common tags of a stack's AWS resources. */
export function nameTag(physical: string): Record<string, string> {
  return { Name: physical };
}
