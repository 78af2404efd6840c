/** Tag that marks the EBS data volume for the snapshot schedule (value: the stack). */
export const SNAPSHOT_TAG = "panopticon:snapshots";

/** Common tags of a stack's AWS resources. */
export function nameTag(physical: string): Record<string, string> {
  return { Name: physical };
}

/** The trust policy that lets one AWS service (e.g. `ec2.amazonaws.com`) assume a role. */
export function assumeRolePolicy(service: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
  });
}

/** Outbound to anywhere: packages, images, AWS APIs, through the NAT gateway. */
export const ALL_OUTBOUND = {
  description: "all outbound",
  protocol: "-1",
  fromPort: 0,
  toPort: 0,
  cidrBlocks: ["0.0.0.0/0"],
};
