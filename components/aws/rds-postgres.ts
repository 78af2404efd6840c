import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { TYPES } from "../config/naming";
import { ProtectionPolicy, statefulOptions } from "../protection";

/**
 * Arguments AWS does not return for an instance (the password, and flags that only
 * act on deletion or on the next change). An imported instance would differ on them
 * and the import would fail, so they are ignored while `adoptIdentifier` is set;
 * once the adopt key is removed, the next `up` writes them again.
 */
export const RDS_ADOPT_IGNORE_CHANGES = [
  "password",
  "finalSnapshotIdentifier",
  "skipFinalSnapshot",
  "deleteAutomatedBackups",
  "applyImmediately",
  "allowMajorVersionUpgrade",
];

export interface RdsPostgresArgs {
  /** Physical instance identifier, stack-scoped (e.g. `panopticon-prod-postgres`). */
  readonly identifier: string;
  readonly protection: ProtectionPolicy;
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets in at least two zones. */
  readonly subnetIds: pulumi.Input<string>[];
  /** The only security group allowed to reach 5432 (the Docker host's). */
  readonly clientSecurityGroupId: pulumi.Input<string>;
  /**
   * Description of the client's ingress rule (updated in place). The group's own
   * description is fixed: changing it would replace the group. @default "Postgres from the Docker host"
   */
  readonly clientDescription?: string;
  /** KMS key ARN (never an alias: an alias diffs forever and replaces the instance). */
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly instanceClass: string;
  /** `16` (AWS applies minor versions) or `16.4` (pinned). */
  readonly engineVersion: string;
  /**
   * Lets an engineVersion change cross a major (`panopticon:aws.rds.allowMajorVersionUpgrade`);
   * RDS refuses a major change without it. @default false
   */
  readonly allowMajorVersionUpgrade?: boolean;
  readonly allocatedStorageGb: number;
  readonly maxAllocatedStorageGb: number;
  /** @default true in prod (config) */
  readonly multiAz: boolean;
  /** At least 7 (the schema enforces it). */
  readonly backupRetentionDays: number;
  readonly backupWindow: string;
  readonly dbName: string;
  readonly username: string;
  /** Master password; a Pulumi secret (the app containers need it). */
  readonly password: pulumi.Input<string>;
  /** Import this retained instance (by identifier) instead of creating one. @default none */
  readonly adoptIdentifier?: string;
}

/**
 * The managed Postgres that replaces the container in AWS stacks. Every guard
 * against data loss comes from the one protection policy: Pulumi `protect` and
 * `retainOnDelete`, AWS deletion protection, a final snapshot whose name carries a
 * stable random suffix (a fixed name fails the second time), automated backups
 * kept after a delete, encryption with the customer key, and no public access:
 * only the Docker host's security group reaches port 5432.
 */
export class RdsPostgres extends pulumi.ComponentResource {
  public readonly instance: aws.rds.Instance;
  public readonly address: pulumi.Output<string>;
  public readonly port: pulumi.Output<number>;
  public readonly finalSnapshotIdentifier: pulumi.Output<string>;

  constructor(name: string, args: RdsPostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.RdsPostgres, name, {}, opts);
    if (args.backupRetentionDays < 7) {
      throw new Error(
        `RDS ${args.identifier}: backupRetentionDays = ${args.backupRetentionDays}: expected at least 7`,
      );
    }
    const network = this.createNetworkAccess(name, args);
    // Stable for the life of the stack, and kept with the instance it names.
    const suffix = new random.RandomId(
      `${name}-final-snapshot-suffix`,
      { byteLength: 4, keepers: { identifier: args.identifier } },
      { parent: this, ...statefulOptions(args.protection) },
    );
    this.finalSnapshotIdentifier = pulumi.interpolate`${args.identifier}-final-${suffix.hex}`;
    this.instance = this.createInstance(name, args, network);
    this.address = this.instance.address;
    this.port = this.instance.port;
    this.registerOutputs({
      address: this.address,
      port: this.port,
      finalSnapshotIdentifier: this.finalSnapshotIdentifier,
    });
  }

  /** The group that admits 5432 from the client only, and the subnets the instance may use. */
  private createNetworkAccess(
    name: string,
    args: RdsPostgresArgs,
  ): { securityGroup: aws.ec2.SecurityGroup; subnetGroup: aws.rds.SubnetGroup } {
    const child = { parent: this };
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        name: args.identifier,
        description: "Panopticon RDS: Postgres from the Docker host only",
        vpcId: args.vpcId,
        ingress: [
          {
            description: args.clientDescription ?? "Postgres from the Docker host",
            protocol: "tcp",
            fromPort: 5432,
            toPort: 5432,
            securityGroups: [args.clientSecurityGroupId],
          },
        ],
        tags: { Name: args.identifier },
      },
      child,
    );
    const subnetGroup = new aws.rds.SubnetGroup(
      `${name}-subnets`,
      { name: args.identifier, subnetIds: args.subnetIds, tags: { Name: args.identifier } },
      child,
    );
    return { securityGroup, subnetGroup };
  }

  private createInstance(
    name: string,
    args: RdsPostgresArgs,
    network: { securityGroup: aws.ec2.SecurityGroup; subnetGroup: aws.rds.SubnetGroup },
  ): aws.rds.Instance {
    const p = args.protection;
    const adopting = args.adoptIdentifier !== undefined;
    const pinnedMinor = /^\d+\.\d+$/.test(args.engineVersion);
    const ignoreChanges = [
      ...(adopting ? RDS_ADOPT_IGNORE_CHANGES : []),
      // AWS applies minor upgrades in the maintenance window; a pinned minor would then
      // plan a downgrade, which RDS refuses. A major-only version never drifts.
      ...(pinnedMinor ? ["engineVersion"] : []),
    ];
    return new aws.rds.Instance(
      `${name}-instance`,
      {
        identifier: args.identifier,
        engine: "postgres",
        engineVersion: args.engineVersion,
        allowMajorVersionUpgrade: args.allowMajorVersionUpgrade ?? false,
        autoMinorVersionUpgrade: true,
        instanceClass: args.instanceClass,
        allocatedStorage: args.allocatedStorageGb,
        maxAllocatedStorage: args.maxAllocatedStorageGb,
        storageType: "gp3",
        storageEncrypted: true,
        kmsKeyId: args.kmsKeyArn,
        dbName: args.dbName,
        username: args.username,
        password: pulumi.secret(args.password),
        port: 5432,
        dbSubnetGroupName: network.subnetGroup.name,
        vpcSecurityGroupIds: [network.securityGroup.id],
        publiclyAccessible: false,
        multiAz: args.multiAz,
        backupRetentionPeriod: args.backupRetentionDays,
        backupWindow: args.backupWindow,
        copyTagsToSnapshot: true,
        deleteAutomatedBackups: false,
        deletionProtection: p.deletionProtection,
        skipFinalSnapshot: !p.finalSnapshot,
        finalSnapshotIdentifier: this.finalSnapshotIdentifier,
        // Changes wait for the maintenance window instead of restarting the database mid-day.
        applyImmediately: false,
        tags: { Name: args.identifier },
      },
      {
        parent: this,
        ...statefulOptions(p),
        import: args.adoptIdentifier,
        ignoreChanges: ignoreChanges.length > 0 ? ignoreChanges : undefined,
      },
    );
  }
}
