/*
 * What the program and its tools agree on, spelled once. The program writes these
 * (container labels, resource types, stack outputs); the guard, the data tools,
 * promote and the policy pack read them. A value typed twice drifts: a renamed label
 * would leave the guard blind to the data it was written to watch, and nothing would
 * fail. tests/contract.test.ts holds the program's labels, types and exports to this
 * file. It imports nothing that needs Pulumi, so the policy pack can load it.
 */

/** Type tokens, one per component, kept in one place. */
export const COMPONENT_TYPES = {
  Panopticon: "panopticon:index:Panopticon",
  DataVolume: "panopticon:storage:DataVolume",
  PostgresContainer: "panopticon:database:PostgresContainer",
  RdsPostgres: "panopticon:database:RdsPostgres",
  ServiceContainer: "panopticon:app:ServiceContainer",
  ServiceImage: "panopticon:app:ServiceImage",
  ImageRepositories: "panopticon:aws:ImageRepositories",
  AwsEnvironment: "panopticon:aws:Environment",
  AwsNetwork: "panopticon:aws:Network",
  DockerHost: "panopticon:aws:DockerHost",
  DockerHostRuntime: "panopticon:docker-host:Runtime",
  DataKey: "panopticon:aws:DataKey",
  DataDisk: "panopticon:aws:DataDisk",
  EfsStorage: "panopticon:aws:EfsStorage",
  SnapshotPolicy: "panopticon:aws:SnapshotPolicy",
  EcsRuntime: "panopticon:ecs:Runtime",
  EcsCluster: "panopticon:ecs:Cluster",
  EcsService: "panopticon:ecs:Service",
  EcsTaskDefinition: "panopticon:ecs:TaskDefinition",
  EcsSecrets: "panopticon:ecs:Secrets",
  InternalAlb: "panopticon:ecs:InternalAlb",
  MigrationTask: "panopticon:ecs:MigrationTask",
} as const;

/** The labels the program puts on every service container it runs on Docker. */
export const LABELS = {
  /** The service's name (compose's service key). */
  service: "com.panopticon.service",
  /** The key of the data set the container mounts (only on containers that mount one). */
  dataSet: "com.panopticon.data-set",
  /** The Postgres major the container runs (only on the database container). */
  postgresMajor: "com.panopticon.postgres-major",
  /** The stores a service reads, `;`-separated storeKeys (components/stores.ts). */
  stores: "com.panopticon.stores",
} as const;

/**
 * Provider resource types the program registers that the guard, the policy pack or the
 * data tools match by token (the pack does not load @pulumi/aws or @pulumi/docker to
 * compare five strings).
 */
export const RESOURCE_TYPES = {
  dockerVolume: "docker:index/volume:Volume",
  dockerContainer: "docker:index/container:Container",
  rdsInstance: "aws:rds/instance:Instance",
  efsFileSystem: "aws:efs/fileSystem:FileSystem",
  efsAccessPoint: "aws:efs/accessPoint:AccessPoint",
  ebsVolume: "aws:ebs/volume:Volume",
  ebsAttachment: "aws:ec2/volumeAttachment:VolumeAttachment",
  ec2Instance: "aws:ec2/instance:Instance",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  kmsKey: "aws:kms/key:Key",
  secret: "aws:secretsmanager/secret:Secret",
  secretVersion: "aws:secretsmanager/secretVersion:SecretVersion",
  ecrRepository: "aws:ecr/repository:Repository",
  s3Bucket: "aws:s3/bucket:Bucket",
  ecsTaskDefinition: "aws:ecs/taskDefinition:TaskDefinition",
  loadBalancer: "aws:lb/loadBalancer:LoadBalancer",
} as const;

/** The program's stack outputs (index.ts exports), by the name the tools read them under. */
export const OUTPUTS = {
  /** Service → its endpoint URL. */
  endpoints: "endpoints",
  /** Data set → its volume, directory or file system. */
  volumes: "volumes",
  /** Service → the image it runs (`repo@sha256:...` when pushed); promote reads it. */
  images: "images",
  /** The database URL (secret). */
  connectionString: "connectionString",
  /** `compose-era` or `release-0.1`. */
  layout: "layout",
  /** The Panopticon commit and compose file that ran; promote carries it. */
  release: "release",
  /** What a teardown does to each stateful resource. */
  protection: "protection",
  /** AWS stacks only: the ids needed to re-adopt what was retained. */
  aws: "aws",
  /** ECS stacks with aws.ecs.migrationTask: where `aws ecs run-task` runs migrate-data. */
  migrationTask: "migrationTask",
} as const;
