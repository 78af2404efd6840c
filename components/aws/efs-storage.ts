import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../config/naming";
import { ProtectionPolicy, statefulOptions } from "../protection";
import { nameTag } from "./types";

export interface EfsStorageArgs {
  readonly stack: string;
  readonly protection: ProtectionPolicy;
  readonly vpcId: pulumi.Input<string>;
  /** One mount target per subnet; the subnets must be in different zones. */
  readonly subnetIds: pulumi.Input<string>[];
  /** The only security group allowed to reach NFS (the Docker host's). */
  readonly clientSecurityGroupId: pulumi.Input<string>;
  /**
   * Description of the client's ingress rule (updated in place). The group's own
   * description is fixed: changing it would replace the group. @default "NFS from the Docker host"
   */
  readonly clientDescription?: string;
  /** KMS key ARN. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Move files to Infrequent Access after this long. @default never */
  readonly transitionToIa?: string;
  /** Import this retained file system instead of creating an empty one. @default none */
  readonly adoptFileSystemId?: string;
  /**
   * Clients must mount with TLS and IAM (the ECS runtime): a file system policy then
   * refuses anonymous NFS, so each task role's grant (its own access point) is what
   * decides. Off for the Docker host, whose NFS mount has neither. @default false
   */
  readonly requireTlsAndIam?: boolean;
  /** AWS partition of the region, for the account's ARN. @default "aws" */
  readonly partition?: string;
}

/**
 * The encrypted EFS file system behind the `efs` data sets, with AWS Backup's daily
 * backups turned on and NFS open to the Docker host's security group only. The
 * file system and its backup policy are protected and retained; mount targets and the
 * security group hold no data and are re-created freely.
 */
export class EfsStorage extends pulumi.ComponentResource {
  public readonly fileSystem: aws.efs.FileSystem;
  public readonly fileSystemId: pulumi.Output<string>;
  /**
   * Resolves to the mount target in the client's zone; stable across mount target changes.
   * Known only after the mount targets exist.
   */
  public readonly dnsName: pulumi.Output<string>;
  public readonly mountTargets: aws.efs.MountTarget[];

  constructor(name: string, args: EfsStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.EfsStorage, name, {}, opts);
    const child = { parent: this };
    const phys = physicalName(PROJECT, args.stack, "efs");

    this.fileSystem = new aws.efs.FileSystem(
      `${name}-fs`,
      {
        encrypted: true,
        kmsKeyId: args.kmsKeyArn,
        performanceMode: "generalPurpose",
        throughputMode: "elastic",
        lifecyclePolicies: args.transitionToIa
          ? [{ transitionToIa: args.transitionToIa }]
          : undefined,
        tags: nameTag(phys),
      },
      { ...child, ...statefulOptions(args.protection), import: args.adoptFileSystemId },
    );
    // Deleting this resource would turn the file system's backups off: it is kept
    // (protect, retain) as long as the data it protects.
    new aws.efs.BackupPolicy(
      `${name}-backup`,
      { fileSystemId: this.fileSystem.id, backupPolicy: { status: "ENABLED" } },
      { ...child, ...statefulOptions(args.protection) },
    );

    if (args.requireTlsAndIam === true) {
      const account = aws.getCallerIdentityOutput({}, child);
      new aws.efs.FileSystemPolicy(
        `${name}-policy`,
        {
          fileSystemId: this.fileSystem.id,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "TlsOnly",
                Effect: "Deny",
                Principal: { AWS: "*" },
                Action: "*",
                Resource: this.fileSystem.arn,
                Condition: { Bool: { "aws:SecureTransport": "false" } },
              },
              {
                // Delegates to IAM: a task may do what its own role grants, no more.
                Sid: "AccountRolesThroughMountTargets",
                Effect: "Allow",
                Principal: {
                  AWS: pulumi.interpolate`arn:${args.partition ?? "aws"}:iam::${account.accountId}:root`,
                },
                Action: [
                  "elasticfilesystem:ClientMount",
                  "elasticfilesystem:ClientWrite",
                  "elasticfilesystem:ClientRootAccess",
                ],
                Resource: this.fileSystem.arn,
                Condition: { Bool: { "elasticfilesystem:AccessedViaMountTarget": "true" } },
              },
            ],
          }),
        },
        child,
      );
    }

    const sg = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        name: phys,
        description: "Panopticon EFS: NFS from the Docker host only",
        vpcId: args.vpcId,
        ingress: [
          {
            description: args.clientDescription ?? "NFS from the Docker host",
            protocol: "tcp",
            fromPort: 2049,
            toPort: 2049,
            securityGroups: [args.clientSecurityGroupId],
          },
        ],
        tags: nameTag(phys),
      },
      child,
    );
    this.mountTargets = args.subnetIds.map(
      (subnetId, i) =>
        new aws.efs.MountTarget(
          `${name}-mount-${i}`,
          { fileSystemId: this.fileSystem.id, subnetId, securityGroups: [sg.id] },
          child,
        ),
    );

    this.fileSystemId = this.fileSystem.id;
    // The name resolves only once a mount target is available: carrying the mount
    // targets as dependencies makes every NFS volume and its initialiser wait for them.
    this.dnsName = pulumi
      .all([this.fileSystem.dnsName, ...this.mountTargets.map((m) => m.id)])
      .apply(([dns]) => dns);
    this.registerOutputs({ fileSystemId: this.fileSystemId, dnsName: this.dnsName });
  }
}
