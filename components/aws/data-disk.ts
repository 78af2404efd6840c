import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../config/naming";
import { ProtectionPolicy, statefulOptions } from "../protection";
import { nameTag, SNAPSHOT_TAG } from "./types";

/** `finalSnapshot` is a provider-side flag AWS does not store: an import would differ on it. */
export const VOLUME_ADOPT_IGNORE_CHANGES = ["finalSnapshot"];

export interface EbsDataDiskArgs {
  readonly stack: string;
  readonly protection: ProtectionPolicy;
  /** The Docker host's zone: a volume attaches only to instances in its own zone. */
  readonly availabilityZone: pulumi.Input<string>;
  readonly sizeGb: number;
  /** KMS key ARN. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Import this retained volume instead of creating an empty one. @default none */
  readonly adoptVolumeId?: string;
}

/**
 * The encrypted EBS volume holding the host directories of the `ebs` data sets
 * (ChromaDB and friends). Protected, retained, snapshotted before any delete, and
 * tagged for the daily snapshot schedule. The Docker host attaches and mounts it.
 */
export class EbsDataDisk extends pulumi.ComponentResource {
  public readonly volume: aws.ebs.Volume;
  public readonly volumeId: pulumi.Output<string>;

  constructor(name: string, args: EbsDataDiskArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.DataDisk, name, {}, opts);
    const adopting = args.adoptVolumeId !== undefined;
    this.volume = new aws.ebs.Volume(
      `${name}-volume`,
      {
        availabilityZone: args.availabilityZone,
        size: args.sizeGb,
        type: "gp3",
        encrypted: true,
        kmsKeyId: args.kmsKeyArn,
        finalSnapshot: args.protection.finalSnapshot,
        tags: { ...nameTag(physicalName(PROJECT, args.stack, "data")), [SNAPSHOT_TAG]: args.stack },
      },
      {
        parent: this,
        ...statefulOptions(args.protection),
        import: args.adoptVolumeId,
        ignoreChanges: adopting ? VOLUME_ADOPT_IGNORE_CHANGES : undefined,
      },
    );
    this.volumeId = this.volume.id;
    this.registerOutputs({ volumeId: this.volumeId });
  }
}
