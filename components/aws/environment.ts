import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { TYPES, physicalName } from "../config/naming";
import { postgresPassword } from "../postgres-password";
import { Settings } from "../config/settings";
import { partitionOf, rdsIdentifier } from "../config/aws";
import { EbsDataDisk } from "./data-disk";
import { EfsStorage } from "./efs-storage";
import { ImageRepositories } from "./image-repositories";
import { DataKey } from "./kms-key";
import { AwsNetwork } from "./network";
import { RdsPostgres } from "./rds-postgres";
import { EbsSnapshotPolicy } from "./snapshots";
import { ALL_OUTBOUND, SNAPSHOT_TAG } from "./types";
import type {
  AwsEnvironmentOutputs,
  AwsFoundation,
  AwsPlatform,
  AwsTarget,
  DataClient,
} from "./platform";

export interface AwsEnvironmentArgs {
  /** Validated settings of an `environment: aws` stack. */
  readonly settings: Settings;
  /** Its target (`settings.target`, narrowed to the AWS runtimes). */
  readonly target: AwsTarget;
  /** The configured `postgresPassword` secret. @default a generated one (random.RandomPassword) */
  readonly postgresPassword?: pulumi.Input<string>;
  /**
   * The runtime's own client of RDS and EFS, made once the network, key and disk exist
   * (the Docker host). @default a security group of its own (`-data-clients`) that the
   * ECS tasks wear
   */
  readonly dataClient?: (foundation: AwsFoundation) => DataClient;
}

/**
 * The AWS pieces both AWS runtimes share, built from the validated settings: the
 * provider, the network, the data key, the EBS data disk and its snapshot schedule
 * (when the stack keeps a disk), EFS when a data set uses it, RDS Postgres and the
 * ECR repositories. The runtime on top (components/runtime/docker-host/ or ecs/)
 * brings the client RDS and EFS admit. The shared pieces keep their names (and so
 * their URNs) whatever the runtime, so moving between runtimes never replaces the
 * database or the file system.
 */
export class AwsEnvironment extends pulumi.ComponentResource {
  public readonly provider: aws.Provider;
  public readonly network: AwsNetwork;
  public readonly key: DataKey;
  public readonly dataDisk?: EbsDataDisk;
  public readonly snapshots?: EbsSnapshotPolicy;
  /** Without a runtime client: the group RDS and EFS admit; tasks that use them wear it. */
  public readonly dataClientSecurityGroup?: aws.ec2.SecurityGroup;
  public readonly efs?: EfsStorage;
  /** The master password (secret). */
  public readonly postgresPassword: pulumi.Output<string>;
  public readonly rds: RdsPostgres;
  /** ECR repositories of the services compose builds (promoted digests live there). */
  public readonly images?: ImageRepositories;
  /** Stack outputs an operator needs (ids for re-adoption). */
  public readonly outputs: pulumi.Output<AwsEnvironmentOutputs>;
  /** What the runtime on top uses of all this, as values (the ECS runtime's `platform`). */
  public readonly platform: AwsPlatform;

  private readonly settings: Settings;
  private readonly target: AwsTarget;
  private readonly child: pulumi.ComponentResourceOptions;

  constructor(name: string, args: AwsEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.AwsEnvironment, name, {}, opts);
    const s = (this.settings = args.settings);
    const a = (this.target = args.target).aws;
    const stack = s.stack;
    this.provider = new aws.Provider(
      `${name}-provider`,
      {
        region: a.region as aws.Region,
        defaultTags: {
          tags: { "panopticon:project": s.project, "panopticon:stack": stack, ManagedBy: "pulumi" },
        },
      },
      { parent: this },
    );
    this.child = { parent: this, providers: [this.provider] };
    this.network = new AwsNetwork(
      `${name}-network`,
      { stack, existing: a.vpc, vpcCidr: a.vpcCidr },
      this.child,
    );
    this.key = new DataKey(
      `${name}-key`,
      {
        stack,
        protection: s.protection,
        existingKeyArn: a.kmsKeyArn,
        adoptKeyId: a.adopt.kmsKeyId,
      },
      this.child,
    );
    const disk = this.createDataDisk(name);
    this.dataDisk = disk?.disk;
    this.snapshots = disk?.snapshots;
    const foundation = {
      environment: this,
      provider: this.provider,
      network: this.network,
      key: this.key,
      dataDisk: this.dataDisk,
    };
    let client: DataClient;
    if (args.dataClient !== undefined) client = args.dataClient(foundation);
    else {
      this.dataClientSecurityGroup = this.createDataClients(name);
      client = { securityGroupId: this.dataClientSecurityGroup.id };
    }
    this.efs = this.createEfs(name, client);
    this.postgresPassword = postgresPassword(
      `${name}-postgres-password`,
      args.postgresPassword,
      this,
    );
    this.rds = this.createRds(name, client);
    this.images = this.createImages(name, client);
    this.outputs = this.outputsOf();
    this.platform = {
      vpcId: this.network.vpcId,
      privateSubnetIds: this.network.privateSubnetIds,
      dataKeyArn: this.key.arn,
      database: { host: this.rds.address, port: this.rds.port, password: this.postgresPassword },
      fileSystem: this.efs && { id: this.efs.fileSystemId, arn: this.efs.fileSystem.arn },
      dataClientSecurityGroupId: this.dataClientSecurityGroup?.id,
      outputs: this.outputs,
    };
    this.registerOutputs({ outputs: this.outputs });
  }

  /** What an operator needs of the shared pieces (ids for re-adoption). */
  private outputsOf(): pulumi.Output<AwsEnvironmentOutputs> {
    const s = this.settings;
    const a = this.target.aws;
    return pulumi.output({
      region: a.region,
      runtime: this.target.kind,
      rdsAddress: this.rds.address,
      rdsIdentifier: rdsIdentifier(s.project, s.stack),
      rdsFinalSnapshotIdentifier: this.rds.finalSnapshotIdentifier,
      kmsKeyArn: this.key.arn,
      ebsVolumeId: this.dataDisk?.volumeId,
      efsFileSystemId: this.efs?.fileSystemId,
      dataMountPath: a.dataMountPath,
      imageRepositories: this.images?.repositoryUrls,
    });
  }

  /** The clients are the runtime's own (the Docker host) rather than ECS tasks. */
  private get onHost(): boolean {
    return this.target.kind === "docker-host";
  }

  /**
   * The host's EBS data disk and its daily snapshots. On ECS the disk is kept only on
   * request (aws.ecs.keepHostDataDisk): after a move from the Docker host it holds the
   * ChromaDB files until they are migrated.
   */
  private createDataDisk(
    name: string,
  ): { disk: EbsDataDisk; snapshots: EbsSnapshotPolicy } | undefined {
    const t = this.target;
    const keep = t.kind === "docker-host" || t.aws.ecs?.keepHostDataDisk === true;
    if (!keep) return undefined;
    const s = this.settings;
    const disk = new EbsDataDisk(
      `${name}-data-disk`,
      {
        stack: s.stack,
        protection: s.protection,
        availabilityZone: this.network.hostAvailabilityZone,
        sizeGb: t.aws.dataVolumeSizeGb,
        kmsKeyArn: this.key.arn,
        adoptVolumeId: t.aws.adopt.ebsVolumeId,
      },
      this.child,
    );
    const snapshots = new EbsSnapshotPolicy(
      `${name}-snapshots`,
      {
        stack: s.stack,
        protection: s.protection,
        partition: partitionOf(t.aws.region),
        targetTags: { [SNAPSHOT_TAG]: s.stack },
        time: t.aws.ebsSnapshots.time,
        retain: t.aws.ebsSnapshots.retain,
      },
      this.child,
    );
    return { disk, snapshots };
  }

  /** The group ECS tasks wear to reach RDS and EFS. */
  private createDataClients(name: string): aws.ec2.SecurityGroup {
    const s = this.settings;
    const phys = physicalName(s.project, s.stack, "data-clients");
    return new aws.ec2.SecurityGroup(
      `${name}-data-clients`,
      {
        name: phys,
        description: "Panopticon ECS tasks that use RDS or EFS",
        vpcId: this.network.vpcId,
        egress: [ALL_OUTBOUND],
        tags: { Name: phys },
      },
      { parent: this, provider: this.provider },
    );
  }

  /** EFS costs money even when empty: only when a data set is configured for it. */
  private createEfs(name: string, client: DataClient): EfsStorage | undefined {
    const s = this.settings;
    const t = this.target;
    const efsDataSets =
      t.kind === "ecs"
        ? t.ecs.services.filter((d) => d.fileData !== undefined)
        : s.dataSets.filter((d) => d.backend === "efs");
    if (efsDataSets.length === 0 && t.aws.adopt.efsFileSystemId === undefined) return undefined;
    return new EfsStorage(
      `${name}-efs`,
      {
        stack: s.stack,
        protection: s.protection,
        vpcId: this.network.vpcId,
        subnetIds: this.network.privateSubnetIds,
        clientSecurityGroupId: client.securityGroupId,
        clients: this.onHost ? "docker-host" : "ecs-tasks",
        kmsKeyArn: this.key.arn,
        transitionToIa: t.aws.efs.transitionToIa,
        adoptFileSystemId: t.aws.adopt.efsFileSystemId,
        partition: partitionOf(t.aws.region),
      },
      this.child,
    );
  }

  private createRds(name: string, client: DataClient): RdsPostgres {
    const s = this.settings;
    const a = this.target.aws;
    return new RdsPostgres(
      `${name}-postgres`,
      {
        identifier: rdsIdentifier(s.project, s.stack),
        protection: s.protection,
        vpcId: this.network.vpcId,
        subnetIds: this.network.privateSubnetIds,
        clientSecurityGroupId: client.securityGroupId,
        clientDescription: this.onHost ? undefined : "Postgres from the ECS tasks",
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
        password: this.postgresPassword,
        adoptIdentifier: a.adopt.rdsInstanceIdentifier,
      },
      this.child,
    );
  }

  /** Every service compose builds gets a repository, built here or promoted into it. */
  private createImages(name: string, client: DataClient): ImageRepositories | undefined {
    const s = this.settings;
    if (s.images.repositories.length === 0) return undefined;
    return new ImageRepositories(
      `${name}-images`,
      {
        stack: s.stack,
        services: s.images.repositories,
        protection: s.protection,
        kmsKeyArn: this.key.arn,
        releasesKept: s.images.releasesKept,
        // The Docker host pulls; on ECS the task execution role pulls (not granted here).
        pullRoleName: client.pullRoleName,
      },
      this.child,
    );
  }
}
