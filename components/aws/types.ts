import { TYPES } from "../naming";

/**
 * Type tokens of the AWS components. The ones components/naming.ts already lists
 * are reused from there; the rest are declared once here.
 */
export const AWS_TYPES = {
  Environment: "panopticon:aws:Environment",
  Network: TYPES.AwsNetwork,
  DockerHost: TYPES.DockerHost,
  EfsStorage: TYPES.EfsStorage,
  DataKey: "panopticon:aws:DataKey",
  DataDisk: "panopticon:aws:DataDisk",
  SnapshotPolicy: "panopticon:aws:SnapshotPolicy",
} as const;

/** Tag that marks the EBS data volume for the snapshot schedule (value: the stack). */
export const SNAPSHOT_TAG = "panopticon:snapshots";

/** Common tags of a stack's AWS resources. */
export function nameTag(physical: string): Record<string, string> {
  return { Name: physical };
}
