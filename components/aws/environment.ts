import { TYPES } from "../config/naming";
import { postgresPassword } from "../postgres-password";
import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ExternalDatabase, ImageRepository } from "../runtime/docker-engine";
import { RdsPostgres } from "./rds-postgres";
import { DataSetSettings, Settings } from "../config/settings";
import { architectureOf, AwsSettings, partitionOf, rdsIdentifier } from "../config/aws";
import { AwsRuntime } from "../config/ecs";
import { physicalName } from "../config/naming";
import { efsDataSetPath, nfsDriverOpts } from "../storage/nfs-volume";
import { EbsDataDisk } from "../runtime/docker-host/data-disk";
import { DockerHost } from "../runtime/docker-host/host";
import { EfsStorage } from "./efs-storage";
import { ImageRepositories } from "./image-repositories";
import { DataKey } from "./kms-key";
import { AwsNetwork } from "./network";
import { EbsSnapshotPolicy } from "../runtime/docker-host/snapshots";
import { ALL_OUTBOUND, SNAPSHOT_TAG } from "./types";

export interface AwsEnvironmentArgs {
  /** Validated settings of an `environment: aws` stack. */
  readonly settings: Settings;
  /** The configured `postgresPassword` secret. @default a generated one (random.RandomPassword) */
  readonly postgresPassword?: pulumi.Input<string>;
}

export interface AwsEnvironmentOutputs {
  readonly region: string;
  readonly runtime: AwsRuntime;
  /** Docker-host runtime only. */
  readonly dockerHostInstanceId: string | undefined;
  readonly dockerHost: string | undefined;
  readonly rdsAddress: string;
  readonly rdsIdentifier: string;
  readonly rdsFinalSnapshotIdentifier: string;
  readonly kmsKeyArn: string;
  /** The host's data disk: docker-host runtime, or ECS with keepHostDataDisk. */
  readonly ebsVolumeId: string | undefined;
  readonly efsFileSystemId: string | undefined;
  readonly dataMountPath: string;
  /** Service → ECR repository URL (a dev stack's panopticon:registry may push here). */
  readonly imageRepositories: Record<string, string> | undefined;
}

/**
 * The AWS pieces every runtime shares, built from the validated settings: the
 * network, the data key, EFS when a data set uses it and RDS Postgres. With the
 * `docker-host` runtime also the Docker host, its EBS data disk and snapshot
 * schedule and a Docker provider pointed at the host; the app is then the same
 * `Panopticon` component as locally. With `ecs`, a security group that the ECS tasks
 * wear to reach RDS and EFS; the app is `EcsRuntime` (components/runtime/ecs/).
 * The shared pieces keep their names (and so their URNs) whatever the runtime, so
 * moving between runtimes never replaces the database or the file system.
 */
export class AwsEnvironment extends pulumi.ComponentResource {
  public readonly network: AwsNetwork;
  public readonly key: DataKey;
  public readonly runtime: AwsRuntime;
  public readonly provider: aws.Provider;
  public readonly dataDisk?: EbsDataDisk;
  public readonly host?: DockerHost;
  public readonly efs?: EfsStorage;
  public readonly rds: RdsPostgres;
  public readonly snapshots?: EbsSnapshotPolicy;
  /** Docker-host runtime only. */
  public readonly dockerProvider?: docker.Provider;
  /** ECS runtime only: the group RDS and EFS admit; tasks that use them wear it. */
  public readonly dataClientSecurityGroup?: aws.ec2.SecurityGroup;
  /** The master password (secret). */
  public readonly postgresPassword: pulumi.Output<string>;
  /** ECR repositories of the services compose builds (promoted digests live there). */
  public readonly images?: ImageRepositories;
  /** Per built service, where the Panopticon component pushes it. */
  public readonly imageRepositories?: Record<string, ImageRepository>;
  /** The Docker provider images are pulled with (logs in to the ECR registry). */
  public readonly imageProvider?: docker.Provider;
  /** Connection settings for the app services (password is secret). */
  public readonly database: ExternalDatabase;
  /** NFS options of one efs-backed data set's volume. */
  public readonly nfsDriverOpts: (dataSet: DataSetSettings) => Record<string, pulumi.Input<string>>;
  /** Stack outputs an operator needs (instance id for SSM, ids for re-adoption). */
  public readonly outputs: pulumi.Output<AwsEnvironmentOutputs>;

  constructor(name: string, args: AwsEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.AwsEnvironment, name, {}, opts);
    const s = args.settings;
    if (s.aws === undefined)
      throw new Error(`stack ${s.stack}: environment aws needs aws settings`);
    const a: AwsSettings = s.aws;
    const policy = s.protection;
    const stack = s.stack;
    const partition = partitionOf(a.region);

    this.runtime = a.runtime;
    const onHost = a.runtime === "docker-host";
    const provider = new aws.Provider(
      `${name}-provider`,
      {
        region: a.region as aws.Region,
        defaultTags: {
          tags: { "panopticon:project": s.project, "panopticon:stack": stack, ManagedBy: "pulumi" },
        },
      },
      { parent: this },
    );
    this.provider = provider;
    const child = { parent: this, providers: [provider] };

    this.network = new AwsNetwork(
      `${name}-network`,
      { stack, existing: a.vpc, vpcCidr: a.vpcCidr },
      child,
    );
    this.key = new DataKey(
      `${name}-key`,
      {
        stack,
        protection: policy,
        existingKeyArn: a.kmsKeyArn,
        adoptKeyId: a.adopt.kmsKeyId,
      },
      child,
    );
    // On ECS the disk is kept only on request (aws.ecs.keepHostDataDisk): after a move
    // from the Docker host it holds the ChromaDB files until they are migrated.
    const keepDisk = onHost || a.ecs?.keepHostDataDisk === true;
    this.dataDisk = !keepDisk
      ? undefined
      : new EbsDataDisk(
          `${name}-data-disk`,
          {
            stack,
            protection: policy,
            availabilityZone: this.network.hostAvailabilityZone,
            sizeGb: a.dataVolumeSizeGb,
            kmsKeyArn: this.key.arn,
            adoptVolumeId: a.adopt.ebsVolumeId,
          },
          child,
        );
    this.snapshots = !keepDisk
      ? undefined
      : new EbsSnapshotPolicy(
          `${name}-snapshots`,
          {
            stack,
            protection: policy,
            partition,
            targetTags: { [SNAPSHOT_TAG]: stack },
            time: a.ebsSnapshots.time,
            retain: a.ebsSnapshots.retain,
          },
          child,
        );
    const dataDisk = this.dataDisk;
    this.host =
      !onHost || dataDisk === undefined
        ? undefined
        : new DockerHost(
            `${name}-host`,
            {
              stack,
              partition,
              vpcId: this.network.vpcId,
              subnetId: this.network.hostSubnetId,
              instanceType: a.instanceType,
              architecture: architectureOf(a.instanceType),
              amiId: a.amiId,
              adminCidrs: a.adminCidrs,
              sshKeyName: a.sshKeyName,
              dataVolumeId: dataDisk.volumeId,
              dataMountPath: a.dataMountPath,
              kmsKeyArn: this.key.arn,
            },
            child,
          );

    this.dataClientSecurityGroup = onHost
      ? undefined
      : new aws.ec2.SecurityGroup(
          `${name}-data-clients`,
          {
            name: physicalName(s.project, stack, "data-clients"),
            description: "Panopticon ECS tasks that use RDS or EFS",
            vpcId: this.network.vpcId,
            egress: [ALL_OUTBOUND],
            tags: { Name: physicalName(s.project, stack, "data-clients") },
          },
          { parent: this, provider },
        );
    const clientSg = (this.host?.securityGroup ?? this.dataClientSecurityGroup)!;

    // EFS costs money even when empty: only when a data set is configured for it.
    const efsDataSets = s.ecs
      ? s.ecs.services.filter((d) => d.fileData !== undefined)
      : s.dataSets.filter((d) => d.backend === "efs");
    if (efsDataSets.length > 0 || a.adopt.efsFileSystemId !== undefined) {
      this.efs = new EfsStorage(
        `${name}-efs`,
        {
          stack,
          protection: policy,
          vpcId: this.network.vpcId,
          subnetIds: this.network.privateSubnetIds,
          clientSecurityGroupId: clientSg.id,
          clientDescription: onHost ? undefined : "NFS from the ECS tasks",
          kmsKeyArn: this.key.arn,
          transitionToIa: a.efs.transitionToIa,
          adoptFileSystemId: a.adopt.efsFileSystemId,
          requireTlsAndIam: !onHost,
          partition,
        },
        child,
      );
    }
    const efs = this.efs;
    this.nfsDriverOpts = (ds) => {
      if (efs === undefined)
        throw new Error(`data set "${ds.key}" uses efs but no file system exists`);
      return nfsDriverOpts(efs.dnsName, efsDataSetPath(stack, ds.key));
    };

    const password = postgresPassword(`${name}-postgres-password`, args.postgresPassword, this);
    this.postgresPassword = password;
    this.rds = new RdsPostgres(
      `${name}-postgres`,
      {
        identifier: rdsIdentifier(s.project, stack),
        protection: policy,
        vpcId: this.network.vpcId,
        subnetIds: this.network.privateSubnetIds,
        clientSecurityGroupId: clientSg.id,
        clientDescription: onHost ? undefined : "Postgres from the ECS tasks",
        kmsKeyArn: this.key.arn,
        instanceClass: a.rds.instanceClass,
        engineVersion: a.rds.engineVersion,
        allowMajorVersionUpgrade: a.rds.allowMajorVersionUpgrade,
        allocatedStorageGb: a.rds.allocatedStorageGb,
        maxAllocatedStorageGb: a.rds.maxAllocatedStorageGb,
        multiAz: a.rds.multiAz,
        backupRetentionDays: a.rds.backupRetentionDays,
        backupWindow: a.rds.preferredBackupWindow,
        dbName: s.postgres.database,
        username: s.postgres.user,
        password,
        adoptIdentifier: a.adopt.rdsInstanceIdentifier,
      },
      child,
    );
    this.database = { host: this.rds.address, port: this.rds.port, password };

    // Every service compose builds gets a repository, built here or promoted into it.
    if (s.images.repositories.length > 0) {
      this.images = new ImageRepositories(
        `${name}-images`,
        {
          stack,
          services: s.images.repositories,
          protection: policy,
          kmsKeyArn: this.key.arn,
          releasesKept: s.images.releasesKept,
          // The Docker host pulls; on ECS the task execution role pulls (not granted here).
          pullRoleName: this.host?.role.name,
        },
        child,
      );
      this.imageRepositories = this.images.forPanopticon;
    }

    // A stable host name (aws.dockerHost, e.g. an ~/.ssh/config alias that goes through
    // SSM) keeps the provider's configuration fixed when the instance changes.
    const host = this.host;
    const dockerHost =
      host === undefined
        ? undefined
        : (a.dockerHost ?? pulumi.interpolate`ssh://ec2-user@${host.privateIp}`);
    this.dockerProvider =
      host === undefined
        ? undefined
        : new docker.Provider(
            `${name}-docker`,
            { host: dockerHost! },
            // Nothing may be created on the host before it exists with its data disk attached.
            { parent: this, dependsOn: [host.instance, host.attachment] },
          );

    // Images are pulled through a provider of their own that logs in to the stack's ECR
    // registry with the deployer's docker credentials (registryAuth names only the
    // address). Its configuration can change without touching the containers' and
    // volumes' provider: at worst the stateless RemoteImages are read again.
    if (this.images && host !== undefined) {
      this.imageProvider = new docker.Provider(
        `${name}-docker-images`,
        { host: dockerHost!, registryAuth: [{ address: this.images.registryAddress }] },
        { parent: this, dependsOn: [host.instance, host.attachment] },
      );
    }

    this.outputs = pulumi.output({
      region: a.region,
      runtime: a.runtime,
      dockerHostInstanceId: host?.instanceId,
      dockerHost,
      rdsAddress: this.rds.address,
      rdsIdentifier: rdsIdentifier(s.project, stack),
      rdsFinalSnapshotIdentifier: this.rds.finalSnapshotIdentifier,
      kmsKeyArn: this.key.arn,
      ebsVolumeId: this.dataDisk?.volumeId,
      efsFileSystemId: this.efs?.fileSystemId,
      dataMountPath: a.dataMountPath,
      imageRepositories: this.images?.repositoryUrls,
    });
    this.registerOutputs({ outputs: this.outputs });
  }
}
