import { COMPONENT_TYPES } from "../../contract";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { efsDataSetPath, physicalName, PROJECT } from "../../config/naming";
import { Settings } from "../../config/settings";
import { nameTag } from "../../aws/types";
import { lifecyclePolicy } from "../../aws/image-repositories";
import { ServiceImage } from "../../image/service-image";
import { ProtectionPolicy, statefulOptions } from "../../protection";
import {
  MIGRATE_CONTAINER,
  MIGRATE_MOUNT_ROOT,
  MIGRATE_TASK_COMMAND,
  MIGRATE_TASK_ENV,
} from "./migrate-task-contract";
import { migrationRoles } from "./migrate-task-roles";
import { jsonKey } from "./secrets";

/** Type token of the one-off migration task. */
export const MIGRATION_TASK_TYPE = COMPONENT_TYPES.MigrationTask;

/** The Dockerfile of the task's image, relative to this repository's root. */
export const MIGRATE_DOCKERFILE = "scripts/migrate-task/Dockerfile";

/** A data set the task mounts read-only: where it is on the file system and whose files they are. */
export interface MigrationDataSet {
  readonly key: string;
  /** Its directory on the EFS file system, e.g. `/prod-ecs/query`. */
  readonly efsPath: string;
  /** Owner of its files: the task reads them as this user (the access point's). */
  readonly uid: number;
  readonly gid: number;
}

export interface MigrationTaskArgs {
  readonly stack: string;
  readonly region: string;
  readonly partition: string;
  readonly protection: ProtectionPolicy;
  /** This repository's root: the image's build context. */
  readonly repoDir: string;
  /** Where `aws ecs run-task` runs it (printed by migrate-data, exported as outputs). */
  readonly clusterName: pulumi.Input<string>;
  readonly subnetIds: pulumi.Input<string>[];
  /** The data clients' group: it reaches RDS and the EFS mount targets. */
  readonly securityGroupIds: pulumi.Input<string>[];
  /** The data key: the repository, the logs and the secrets are encrypted with it. */
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly logsKeyArn: pulumi.Input<string>;
  readonly logRetentionDays: number;
  readonly database: {
    /** The stack's database secret (JSON keys `password` and `url`). */
    readonly secretArn: pulumi.Input<string>;
    /** The RDS instance snapshotted before the copy. */
    readonly instanceIdentifier: pulumi.Input<string>;
    readonly instanceArn: pulumi.Input<string>;
  };
  /** The stack's EFS; required when there are data sets. */
  readonly fileSystem?: { readonly id: pulumi.Input<string>; readonly arn: pulumi.Input<string> };
  /** @default none: the task then copies only the compose-era tables */
  readonly dataSets: readonly MigrationDataSet[];
}

/** What the operator's migrate-data reads to print `aws ecs run-task` (stack output `migrationTask`). */
export interface MigrationTaskOutputs {
  readonly cluster: string;
  readonly taskDefinition: string;
  readonly subnets: string[];
  readonly securityGroups: string[];
  readonly logGroup: string;
  readonly container: string;
}

/** The data sets an ECS stack's task mounts: every one on EFS but Postgres's. */
export function migrationDataSets(settings: Settings): MigrationDataSet[] {
  return settings.dataSets
    .filter((d) => d.backend === "efs" && d.service !== settings.postgres.service)
    .map((d) => ({
      key: d.key,
      efsPath: efsDataSetPath(settings.stack, d.key),
      uid: d.uid,
      gid: d.gid,
    }));
}

/**
 * migrate-data as an ECS one-off task (`aws ecs run-task`), registered only when
 * `panopticon:aws.ecs.migrationTask` is true: an ECR repository and the image built
 * from this repository (scripts/migrate-task/Dockerfile), one read-only access point
 * per data set (as the files' owner, creating nothing), a task definition that mounts
 * each at /migrate/<data set> read-only and gets the RDS URL from the stack's secret,
 * and a task role that may mount those access points without writing and snapshot
 * the instance, nothing else. No service: nothing runs until the operator starts it.
 */
export class MigrationTask extends pulumi.ComponentResource {
  public readonly taskDefinition: aws.ecs.TaskDefinition;
  public readonly outputs: pulumi.Output<MigrationTaskOutputs>;

  constructor(name: string, args: MigrationTaskArgs, opts?: pulumi.ComponentResourceOptions) {
    super(MIGRATION_TASK_TYPE, name, {}, opts);
    const child = { parent: this };
    const phys = physicalName(PROJECT, args.stack, "migrate-data");
    const fs = args.fileSystem;
    if (args.dataSets.length > 0 && fs === undefined) {
      throw new Error(
        `migration task: data sets ${args.dataSets.map((d) => d.key).join(", ")} are on EFS but no file system was given`,
      );
    }
    const image = migrationImage(name, phys, args, child);
    const accessPoints = args.dataSets.map((d) => readOnlyAccessPoint(name, phys, args, d, child));
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      {
        name: `/panopticon/${args.stack}/migrate-data`,
        retentionInDays: args.logRetentionDays,
        kmsKeyId: args.logsKeyArn,
        tags: nameTag(phys),
      },
      child,
    );
    const roles = migrationRoles(
      name,
      phys,
      {
        partition: args.partition,
        kmsKeyArn: args.kmsKeyArn,
        secretArn: args.database.secretArn,
        instanceArn: args.database.instanceArn,
        instanceIdentifier: args.database.instanceIdentifier,
        fileSystemArn: fs?.arn ?? "",
        accessPointArns: accessPoints.map((a) => a.arn),
      },
      child,
    );
    this.taskDefinition = new aws.ecs.TaskDefinition(
      `${name}-task-definition`,
      {
        family: phys,
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: "1024",
        memory: "2048",
        runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
        executionRoleArn: roles.execution.arn,
        taskRoleArn: roles.task.arn,
        containerDefinitions: pulumi.jsonStringify([
          migrationContainer(args, image.ref, logGroup.name),
        ]),
        volumes: args.dataSets.map((d, i) => ({
          name: d.key,
          efsVolumeConfiguration: {
            fileSystemId: fs!.id,
            transitEncryption: "ENABLED",
            authorizationConfig: { accessPointId: accessPoints[i].id, iam: "ENABLED" },
          },
        })),
        tags: nameTag(phys),
      },
      child,
    );
    this.outputs = pulumi.output({
      cluster: pulumi.output(args.clusterName),
      taskDefinition: this.taskDefinition.family,
      subnets: pulumi.all(args.subnetIds),
      securityGroups: pulumi.all(args.securityGroupIds),
      logGroup: logGroup.name,
      container: MIGRATE_CONTAINER,
    });
    this.registerOutputs({ outputs: this.outputs, imageRef: image.ref });
  }
}

/** The one container: the tool, the data sets read-only, the URL as a secret. */
function migrationContainer(
  args: MigrationTaskArgs,
  imageRef: pulumi.Input<string>,
  logGroupName: pulumi.Input<string>,
) {
  const e = MIGRATE_TASK_ENV;
  return {
    name: MIGRATE_CONTAINER,
    image: imageRef,
    essential: true,
    command: [...MIGRATE_TASK_COMMAND],
    environment: [
      { name: e.stack, value: args.stack },
      { name: e.dataSets, value: args.dataSets.map((d) => d.key).join(",") },
      { name: e.rdsInstance, value: args.database.instanceIdentifier },
      { name: e.region, value: args.region },
    ],
    secrets: [{ name: e.databaseUrl, valueFrom: jsonKey(args.database.secretArn, "url") }],
    mountPoints: args.dataSets.map((d) => ({
      sourceVolume: d.key,
      containerPath: `${MIGRATE_MOUNT_ROOT}/${d.key}`,
      readOnly: true,
    })),
    logConfiguration: {
      logDriver: "awslogs",
      options: {
        "awslogs-group": logGroupName,
        "awslogs-region": args.region,
        "awslogs-stream-prefix": "migrate",
      },
    },
  };
}

/** The task's ECR repository (kept like the services') and the image built from this repository. */
function migrationImage(
  name: string,
  phys: string,
  args: MigrationTaskArgs,
  child: pulumi.ComponentResourceOptions,
): ServiceImage {
  const repo = new aws.ecr.Repository(
    `${name}-repository`,
    {
      name: `${PROJECT}/${args.stack}/migrate-data`,
      imageTagMutability: "IMMUTABLE",
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfigurations: [{ encryptionType: "KMS", kmsKey: args.kmsKeyArn }],
      forceDelete: false,
      tags: nameTag(phys),
    },
    { ...child, ...statefulOptions(args.protection) },
  );
  new aws.ecr.LifecyclePolicy(
    `${name}-repository-lifecycle`,
    { repository: repo.name, policy: lifecyclePolicy(5) },
    child,
  );
  return new ServiceImage(
    `${name}-image`,
    {
      build: {
        context: args.repoDir,
        dockerfile: path.join(args.repoDir, MIGRATE_DOCKERFILE),
        dockerfileInSource: MIGRATE_DOCKERFILE,
        args: {},
      },
      destination: { push: repo.repositoryUrl },
      protection: args.protection,
    },
    child,
  );
}

/** Reads as the files' owner; no creationInfo, so a missing data set is not made: the mount fails. */
function readOnlyAccessPoint(
  name: string,
  phys: string,
  args: MigrationTaskArgs,
  d: MigrationDataSet,
  child: pulumi.ComponentResourceOptions,
): aws.efs.AccessPoint {
  return new aws.efs.AccessPoint(
    `${name}-${d.key}-access-point`,
    {
      fileSystemId: args.fileSystem!.id,
      posixUser: { uid: d.uid, gid: d.gid },
      rootDirectory: { path: d.efsPath },
      tags: nameTag(`${phys}-${d.key}`),
    },
    child,
  );
}
