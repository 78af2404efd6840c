import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../config/naming";
import { ProtectionPolicy, statefulOptions } from "../protection";
import { nameTag } from "./types";

/**
 * Key arguments AWS never returns; an imported key would show a diff on them and
 * the import would fail. Ignored only while adopting.
 */
export const KEY_ADOPT_IGNORE_CHANGES = ["deletionWindowInDays", "bypassPolicyLockoutSafetyCheck"];

export interface DataKeyArgs {
  readonly stack: string;
  readonly protection: ProtectionPolicy;
  /** Use this customer-managed key instead of creating one. @default create a key */
  readonly existingKeyArn?: string;
  /** Import this retained key (its id) instead of creating a new one. @default none */
  readonly adoptKeyId?: string;
}

/**
 * The customer-managed KMS key that encrypts RDS, EFS and EBS. Losing it makes every
 * snapshot and backup unreadable, so it is protected and retained like the data;
 * a scheduled deletion waits the maximum 30 days.
 */
export class DataKey extends pulumi.ComponentResource {
  /** Always an ARN: RDS shows a permanent diff (and replaces) when given an alias. */
  public readonly arn: pulumi.Output<string>;
  public readonly key?: aws.kms.Key;

  constructor(name: string, args: DataKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.DataKey, name, {}, opts);
    if (args.existingKeyArn !== undefined) {
      this.arn = pulumi.output(args.existingKeyArn);
    } else {
      const adopting = args.adoptKeyId !== undefined;
      this.key = new aws.kms.Key(
        `${name}-key`,
        {
          description: `${physicalName(PROJECT, args.stack, "data")}: RDS, EFS and EBS encryption`,
          enableKeyRotation: true,
          deletionWindowInDays: 30,
          tags: nameTag(physicalName(PROJECT, args.stack, "data")),
        },
        {
          parent: this,
          ...statefulOptions(args.protection),
          import: args.adoptKeyId,
          ignoreChanges: adopting ? KEY_ADOPT_IGNORE_CHANGES : undefined,
        },
      );
      // For people and the console only; every resource refers to the key by ARN.
      new aws.kms.Alias(
        `${name}-alias`,
        { name: `alias/${physicalName(PROJECT, args.stack, "data")}`, targetKeyId: this.key.keyId },
        { parent: this },
      );
      this.arn = this.key.arn;
    }
    this.registerOutputs({ arn: this.arn });
  }
}
