import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../../config/naming";
import { EcsFileData, EcsServicePlan } from "../../config/ecs-plan";
import { executionRole } from "./execution-role";
import { assumeRolePolicy, nameTag } from "../../aws/types";
import { efsDataSetPath } from "../../aws/efs-storage";
import { taskContainers } from "./containers";
import { jsonKey } from "./secrets";

/*
 * How an ECS task mounts its data set on EFS, the task's half: an access point rooted at
 * the data set's directory (created with the service's owner), a task role that may mount
 * through that access point only, the task's EFS volume (TLS and IAM) and the container's
 * mount point. The file system's half (encryption, the policy that admits TLS and IAM
 * mounts only, the mount targets and their group, each data set's directory) is
 * components/aws/efs-storage.ts.
 */

export interface EcsTaskDefinitionArgs {
  readonly stack: string;
  readonly partition: string;
  readonly region: string;
  readonly plan: EcsServicePlan;
  readonly logsKeyArn: pulumi.Input<string>;
  readonly logRetentionDays: number;
  /** The data key (secrets and EFS are encrypted with it). */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Secret ARN per variable of `plan.secretEnv` that is configured. */
  readonly secretArns: Readonly<Record<string, pulumi.Input<string>>>;
  readonly database?: {
    readonly host: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    readonly user: string;
    readonly name: string;
    /** Secret with the JSON keys `password` and `url`. */
    readonly secretArn: pulumi.Input<string>;
    /** Image of the one-shot pgvector container (has psql). */
    readonly psqlImage: string;
  };
  /** Required when the plan has file data. */
  readonly fileSystem?: { readonly id: pulumi.Input<string>; readonly arn: pulumi.Input<string> };
  /** Seconds between SIGTERM and SIGKILL (Fargate allows at most 120). */
  readonly stopTimeoutSeconds: number;
}

/** A data set on EFS, as the task definition mounts it. */
interface EfsMount {
  readonly accessPoint: aws.efs.AccessPoint;
  readonly volume: aws.types.input.ecs.TaskDefinitionVolume;
  readonly mountPoint: aws.ecs.MountPoint;
}

/**
 * What one Panopticon service's task is: its log group (KMS, retention from config), an
 * execution role that may read only its own secrets, a task role that may mount only its
 * own EFS access point, and the task definition (secrets through `secrets`, never
 * `environment`). Made by EcsService as its child; everything here was the service's own
 * child before this component existed, and keeps its URN through an alias.
 */
export class EcsTaskDefinition extends pulumi.ComponentResource {
  public readonly taskDefinition: aws.ecs.TaskDefinition;
  public readonly accessPoint?: aws.efs.AccessPoint;

  private readonly args: EcsTaskDefinitionArgs;
  /** Options of every child: parented here, reached from its place under the service. */
  private readonly child: pulumi.CustomResourceOptions;
  private readonly phys: string;

  constructor(name: string, args: EcsTaskDefinitionArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.EcsTaskDefinition, name, {}, opts);
    this.args = args;
    // The parent by URN: an alias holding the Resource makes the SDK walk the whole tree
    // below it for each child (pulumi.output of the alias), which made 50 ECS services 5× slower.
    this.child = { parent: this, aliases: [{ parent: opts?.parent?.urn }] };
    const p = args.plan;
    this.phys = physicalName(PROJECT, args.stack, p.name);
    if (p.fileData !== undefined && args.fileSystem === undefined) {
      throw new Error(`${p.name}: data set ${p.fileData.key} is on files but no EFS exists`);
    }

    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      {
        name: `/panopticon/${args.stack}/${p.name}`,
        retentionInDays: args.logRetentionDays,
        kmsKeyId: args.logsKeyArn,
        tags: nameTag(this.phys),
      },
      this.child,
    );
    const executionRole = this.createExecutionRole(name);
    const taskRole = this.role(`${name}-task`, "task");
    const efs =
      p.fileData !== undefined && args.fileSystem !== undefined
        ? this.mountOnEfs(name, p.fileData, args.fileSystem, taskRole)
        : undefined;
    this.accessPoint = efs?.accessPoint;

    const containers = taskContainers({
      plan: p,
      region: args.region,
      logGroupName: logGroup.name,
      secretArns: args.secretArns,
      database: args.database && {
        ...args.database,
        passwordFrom: jsonKey(args.database.secretArn, "password"),
        urlFrom: jsonKey(args.database.secretArn, "url"),
      },
      stopTimeoutSeconds: args.stopTimeoutSeconds,
      mountPoints: efs && [efs.mountPoint],
    });
    this.taskDefinition = new aws.ecs.TaskDefinition(
      `${name}-task-definition`,
      {
        family: this.phys,
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: String(p.size.taskCpu),
        memory: String(p.size.taskMemory),
        runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
        executionRoleArn: executionRole.arn,
        taskRoleArn: taskRole.arn,
        containerDefinitions: pulumi.jsonStringify(containers),
        volumes: efs && [efs.volume],
        tags: nameTag(this.phys),
      },
      this.child,
    );
    this.registerOutputs({
      taskDefinitionArn: this.taskDefinition.arn,
      accessPointId: this.accessPoint?.id,
    });
  }

  /** A role the tasks assume (`execution`: ECS itself; `task`: the service's code). */
  private role(name: string, kind: "execution" | "task"): aws.iam.Role {
    return new aws.iam.Role(
      name,
      {
        name: `${this.phys}-${kind}`,
        assumeRolePolicy: assumeRolePolicy("ecs-tasks.amazonaws.com"),
      },
      this.child,
    );
  }

  /** The role ECS starts the task with: pulls the image, writes logs, reads its own secrets. */
  private createExecutionRole(name: string): aws.iam.Role {
    const { plan: p, secretArns: arns, database } = this.args;
    const secretArns = [
      ...p.secretEnv.filter((e) => arns[e] !== undefined).map((e) => arns[e]),
      ...(database ? [database.secretArn] : []),
    ];
    return executionRole(
      name,
      this.phys,
      { partition: this.args.partition, kmsKeyArn: this.args.kmsKeyArn, secretArns },
      this.child,
    );
  }

  /**
   * The data set's access point, the task role's grant to mount through it, and the
   * volume and mount point of the task. The access point owns the data set's directory:
   * it creates it with the service's owner, and every file the task writes gets that
   * uid/gid. The volume uses TLS and IAM, which the file system's policy demands.
   */
  private mountOnEfs(
    name: string,
    fd: EcsFileData,
    fileSystem: NonNullable<EcsTaskDefinitionArgs["fileSystem"]>,
    taskRole: aws.iam.Role,
  ): EfsMount {
    const accessPoint = new aws.efs.AccessPoint(
      `${name}-access-point`,
      {
        fileSystemId: fileSystem.id,
        posixUser: { uid: fd.uid, gid: fd.gid },
        rootDirectory: {
          path: efsDataSetPath(this.args.stack, fd.key),
          creationInfo: { ownerUid: fd.uid, ownerGid: fd.gid, permissions: "0750" },
        },
        tags: nameTag(`${this.phys}-${fd.key}`),
      },
      this.child,
    );
    new aws.iam.RolePolicy(
      `${name}-task-efs`,
      {
        role: taskRole.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              // Root in the container stays root on the files (the compose images run
              // as root, and the files they wrote on the Docker host are root's).
              Action: [
                "elasticfilesystem:ClientMount",
                "elasticfilesystem:ClientWrite",
                ...(fd.uid === 0 ? ["elasticfilesystem:ClientRootAccess"] : []),
              ],
              Resource: fileSystem.arn,
              Condition: {
                StringEquals: { "elasticfilesystem:AccessPointArn": accessPoint.arn },
              },
            },
          ],
        }),
      },
      this.child,
    );
    return {
      accessPoint,
      volume: {
        name: fd.key,
        efsVolumeConfiguration: {
          fileSystemId: fileSystem.id,
          transitEncryption: "ENABLED",
          authorizationConfig: { accessPointId: accessPoint.id, iam: "ENABLED" },
        },
      },
      mountPoint: { sourceVolume: fd.key, containerPath: fd.mountPath, readOnly: false },
    };
  }
}
