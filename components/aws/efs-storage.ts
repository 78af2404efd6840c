import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../config/naming";
import { ProtectionPolicy, statefulOptions } from "../protection";
import { nameTag } from "./types";

/*
 * The file system's half of how the runtimes use EFS: the encrypted file system and its
 * backups, the policy that (for ECS tasks) admits TLS and IAM mounts only, the mount
 * targets and their security group, and where each data set lives on it. The other
 * half is the client's: an ECS task's access point, grant, volume and mount point are
 * components/runtime/ecs/task-definition.ts; the Docker host's NFS volume is
 * components/storage/nfs-volume.ts.
 */

/**
 * Each data set's directory, `/<stack>/<data set>`: the same for both runtimes, so a
 * move between them finds the files where the other left them. Kept in naming.ts,
 * which settings and the data tools load without the Pulumi SDK.
 */
export { efsDataSetPath } from "../config/naming";

/** Who mounts the file system: the NFS client decides what the file system demands. */
export type EfsClients =
  /** The Docker host's NFS mount, which can do neither TLS nor IAM. */
  | "docker-host"
  /** ECS tasks, each through its own access point with TLS and IAM. */
  | "ecs-tasks";

const CLIENT_RULE: Record<EfsClients, string> = {
  "docker-host": "NFS from the Docker host",
  "ecs-tasks": "NFS from the ECS tasks",
};

export interface EfsStorageArgs {
  readonly stack: string;
  readonly protection: ProtectionPolicy;
  readonly vpcId: pulumi.Input<string>;
  /** One mount target per subnet; the subnets must be in different zones. */
  readonly subnetIds: pulumi.Input<string>[];
  /** The only security group allowed to reach NFS (the Docker host's, or the tasks'). */
  readonly clientSecurityGroupId: pulumi.Input<string>;
  /**
   * Who that group is. ECS tasks must mount with TLS and IAM: a file system policy then
   * refuses anonymous NFS, so each task role's grant (its own access point) is what
   * decides. The Docker host's NFS mount has neither.
   */
  readonly clients: EfsClients;
  /** KMS key ARN. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Move files to Infrequent Access after this long. @default never */
  readonly transitionToIa?: string;
  /** Import this retained file system instead of creating an empty one. @default none */
  readonly adoptFileSystemId?: string;
  /** AWS partition of the region, for the account's ARN. @default "aws" */
  readonly partition?: string;
}

/**
 * The encrypted EFS file system behind the `efs` data sets, with AWS Backup's daily
 * backups turned on and NFS open to its clients' security group only. The
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
    const phys = physicalName(PROJECT, args.stack, "efs");
    this.fileSystem = this.createFileSystem(name, phys, args);
    if (args.clients === "ecs-tasks") this.requireTlsAndIam(name, args.partition ?? "aws");
    this.mountTargets = this.createMountTargets(name, phys, args);
    this.fileSystemId = this.fileSystem.id;
    // The name resolves only once a mount target is available: carrying the mount
    // targets as dependencies makes every NFS volume and its initialiser wait for them.
    this.dnsName = pulumi
      .all([this.fileSystem.dnsName, ...this.mountTargets.map((m) => m.id)])
      .apply(([dns]) => dns);
    this.registerOutputs({ fileSystemId: this.fileSystemId, dnsName: this.dnsName });
  }

  /** The file system and its backup policy, both kept as long as the data. */
  private createFileSystem(name: string, phys: string, args: EfsStorageArgs): aws.efs.FileSystem {
    const keep = { parent: this, ...statefulOptions(args.protection) };
    const fileSystem = new aws.efs.FileSystem(
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
      { ...keep, import: args.adoptFileSystemId },
    );
    // Deleting this resource would turn the file system's backups off: it is kept
    // (protect, retain) as long as the data it protects.
    new aws.efs.BackupPolicy(
      `${name}-backup`,
      { fileSystemId: fileSystem.id, backupPolicy: { status: "ENABLED" } },
      keep,
    );
    return fileSystem;
  }

  /** Refuses plain NFS: only TLS mounts by the account's roles, through a mount target. */
  private requireTlsAndIam(name: string, partition: string): void {
    const child = { parent: this };
    const account = aws.getCallerIdentityOutput({}, child);
    const arn = this.fileSystem.arn;
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
              Resource: arn,
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            {
              // Delegates to IAM: a task may do what its own role grants, no more.
              Sid: "AccountRolesThroughMountTargets",
              Effect: "Allow",
              Principal: {
                AWS: pulumi.interpolate`arn:${partition}:iam::${account.accountId}:root`,
              },
              Action: [
                "elasticfilesystem:ClientMount",
                "elasticfilesystem:ClientWrite",
                "elasticfilesystem:ClientRootAccess",
              ],
              Resource: arn,
              Condition: { Bool: { "elasticfilesystem:AccessedViaMountTarget": "true" } },
            },
          ],
        }),
      },
      child,
    );
  }

  /** One mount target per subnet, in a group that admits NFS from the clients only. */
  private createMountTargets(
    name: string,
    phys: string,
    args: EfsStorageArgs,
  ): aws.efs.MountTarget[] {
    const child = { parent: this };
    const sg = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        name: phys,
        // Fixed: changing a group's description replaces the group (the rule's may change).
        description: "Panopticon EFS: NFS from the Docker host only",
        vpcId: args.vpcId,
        ingress: [
          {
            description: CLIENT_RULE[args.clients],
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
    return args.subnetIds.map(
      (subnetId, i) =>
        new aws.efs.MountTarget(
          `${name}-mount-${i}`,
          { fileSystemId: this.fileSystem.id, subnetId, securityGroups: [sg.id] },
          child,
        ),
    );
  }
}
