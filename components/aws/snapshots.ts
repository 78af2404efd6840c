import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../config/naming";
import { ProtectionPolicy } from "../protection";
import { nameTag, assumeRolePolicy } from "./types";

export interface EbsSnapshotPolicyArgs {
  readonly stack: string;
  readonly protection: ProtectionPolicy;
  /** AWS partition of the region, for the managed policy ARN. */
  readonly partition: string;
  /** Volumes carrying all of these tags are snapshotted. */
  readonly targetTags: Record<string, string>;
  /** Daily snapshot time, UTC, `HH:MM`. */
  readonly time: string;
  /** Snapshots kept; older ones are deleted by DLM. */
  readonly retain: number;
}

/**
 * Daily snapshots of the EBS data volume by Data Lifecycle Manager, selected by
 * tag so an adopted or re-created volume is covered without a change here.
 * Protected (from the stack's policy) so `pulumi destroy --exclude-protected` keeps
 * the schedule running for the retained volume. It is not retained: after a full
 * teardown it would clash with its re-created self, and deleting a DLM policy
 * stops new snapshots but keeps every snapshot already taken.
 */
export class EbsSnapshotPolicy extends pulumi.ComponentResource {
  public readonly policy: aws.dlm.LifecyclePolicy;

  constructor(name: string, args: EbsSnapshotPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.SnapshotPolicy, name, {}, opts);
    const child = { parent: this, protect: args.protection.protect };
    const phys = physicalName(PROJECT, args.stack, "snapshots");
    const role = new aws.iam.Role(
      `${name}-role`,
      {
        name: phys,
        assumeRolePolicy: assumeRolePolicy("dlm.amazonaws.com"),
      },
      child,
    );
    const attachment = new aws.iam.RolePolicyAttachment(
      `${name}-dlm`,
      {
        role: role.name,
        policyArn: `arn:${args.partition}:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole`,
      },
      child,
    );
    this.policy = new aws.dlm.LifecyclePolicy(
      `${name}-policy`,
      {
        // DLM descriptions allow letters, digits, spaces, - and _ only.
        description: `${phys} daily EBS snapshots`,
        executionRoleArn: role.arn,
        state: "ENABLED",
        policyDetails: {
          resourceTypes: ["VOLUME"],
          targetTags: args.targetTags,
          schedules: [
            {
              name: "daily",
              createRule: { interval: 24, intervalUnit: "HOURS", times: args.time },
              retainRule: { count: args.retain },
              copyTags: true,
              tagsToAdd: { "panopticon:snapshot-of": phys },
            },
          ],
        },
        tags: nameTag(phys),
      },
      { ...child, dependsOn: [attachment] },
    );
    this.registerOutputs({ policyArn: this.policy.arn });
  }
}
