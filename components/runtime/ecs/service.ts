import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../../config/naming";
import { assumeRolePolicy, nameTag } from "../../aws/types";
import { EcsServicePlan } from "../../config/ecs-plan";
import { jsonKey } from "./secrets";
import { taskContainers } from "./containers";

export interface EcsServiceArgs {
  readonly stack: string;
  readonly partition: string;
  readonly region: string;
  readonly plan: EcsServicePlan;
  readonly clusterArn: pulumi.Input<string>;
  readonly clusterName: pulumi.Input<string>;
  readonly namespaceArn: pulumi.Input<string>;
  readonly subnetIds: pulumi.Input<string>[];
  /** Its own group, plus the data clients' group when it uses RDS or EFS. */
  readonly securityGroupIds: pulumi.Input<string>[];
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
  readonly targetGroupArn?: pulumi.Input<string>;
  /** Seconds between SIGTERM and SIGKILL (Fargate allows at most 120). */
  readonly stopTimeoutSeconds: number;
  /** Services this one starts after: it is created once they are steady. */
  readonly startAfter: pulumi.Resource[];
}

/**
 * One Panopticon service on Fargate: its log group (KMS, retention from config), an
 * execution role that may read only its own secrets, a task role that may mount only
 * its own EFS access point, the task definition (secrets through `secrets`, never
 * `environment`) and the ECS service on Service Connect. A service with file data is
 * a single writer: one task, and a deployment stops the old task before starting the
 * new one. A stateless service scales on CPU between the configured bounds.
 * Nothing here holds data: the files live on EFS, the rows in RDS.
 */
export class EcsService extends pulumi.ComponentResource {
  public readonly service: aws.ecs.Service;
  public readonly taskDefinition: aws.ecs.TaskDefinition;
  public readonly accessPoint?: aws.efs.AccessPoint;

  constructor(name: string, args: EcsServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.EcsService, name, {}, opts);
    const child = { parent: this };
    const p = args.plan;
    const phys = physicalName(PROJECT, args.stack, p.name);
    if (p.fileData !== undefined && args.fileSystem === undefined) {
      throw new Error(`${p.name}: data set ${p.fileData.key} is on files but no EFS exists`);
    }

    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      {
        name: `/panopticon/${args.stack}/${p.name}`,
        retentionInDays: args.logRetentionDays,
        kmsKeyId: args.logsKeyArn,
        tags: nameTag(phys),
      },
      child,
    );

    const secretArns = [
      ...p.secretEnv.filter((e) => args.secretArns[e] !== undefined).map((e) => args.secretArns[e]),
      ...(args.database ? [args.database.secretArn] : []),
    ];
    const executionRole = new aws.iam.Role(
      `${name}-execution`,
      { name: `${phys}-execution`, assumeRolePolicy: assumeRolePolicy("ecs-tasks.amazonaws.com") },
      child,
    );
    new aws.iam.RolePolicyAttachment(
      `${name}-execution-managed`,
      {
        role: executionRole.name,
        policyArn: `arn:${args.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`,
      },
      child,
    );
    if (secretArns.length > 0) {
      new aws.iam.RolePolicy(
        `${name}-execution-secrets`,
        {
          role: executionRole.id,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
              { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: secretArns },
              { Effect: "Allow", Action: "kms:Decrypt", Resource: args.kmsKeyArn },
            ],
          }),
        },
        child,
      );
    }

    const taskRole = new aws.iam.Role(
      `${name}-task`,
      { name: `${phys}-task`, assumeRolePolicy: assumeRolePolicy("ecs-tasks.amazonaws.com") },
      child,
    );
    const fd = p.fileData;
    if (fd !== undefined && args.fileSystem !== undefined) {
      // The access point owns the data set's directory: it creates it with the
      // service's owner, and every file the task writes gets that uid/gid.
      this.accessPoint = new aws.efs.AccessPoint(
        `${name}-access-point`,
        {
          fileSystemId: args.fileSystem.id,
          posixUser: { uid: fd.uid, gid: fd.gid },
          rootDirectory: {
            path: fd.efsPath,
            creationInfo: { ownerUid: fd.uid, ownerGid: fd.gid, permissions: "0750" },
          },
          tags: nameTag(`${phys}-${fd.key}`),
        },
        child,
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
                Resource: args.fileSystem.arn,
                Condition: {
                  StringEquals: { "elasticfilesystem:AccessPointArn": this.accessPoint.arn },
                },
              },
            ],
          }),
        },
        child,
      );
    }

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
    });
    this.taskDefinition = new aws.ecs.TaskDefinition(
      `${name}-task-definition`,
      {
        family: phys,
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: String(p.size.taskCpu),
        memory: String(p.size.taskMemory),
        runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
        executionRoleArn: executionRole.arn,
        taskRoleArn: taskRole.arn,
        containerDefinitions: pulumi.jsonStringify(containers),
        volumes:
          fd !== undefined && this.accessPoint !== undefined && args.fileSystem !== undefined
            ? [
                {
                  name: fd.key,
                  efsVolumeConfiguration: {
                    fileSystemId: args.fileSystem.id,
                    transitEncryption: "ENABLED",
                    authorizationConfig: { accessPointId: this.accessPoint.id, iam: "ENABLED" },
                  },
                },
              ]
            : undefined,
        tags: nameTag(phys),
      },
      child,
    );

    const single = p.scaling === undefined;
    this.service = new aws.ecs.Service(
      `${name}-service`,
      {
        name: p.name,
        cluster: args.clusterArn,
        taskDefinition: this.taskDefinition.arn,
        desiredCount: single ? 1 : p.scaling!.min,
        launchType: "FARGATE",
        platformVersion: "LATEST",
        // Single writer: the old task stops before the new one starts.
        deploymentMinimumHealthyPercent: single ? 0 : 100,
        deploymentMaximumPercent: single ? 100 : 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        networkConfiguration: {
          subnets: args.subnetIds,
          securityGroups: args.securityGroupIds,
          assignPublicIp: false,
        },
        serviceConnectConfiguration: {
          enabled: true,
          namespace: args.namespaceArn,
          services: [
            {
              portName: "http",
              discoveryName: p.name,
              clientAlias: [{ port: p.port, dnsName: p.name }],
            },
          ],
        },
        loadBalancers:
          args.targetGroupArn !== undefined
            ? [
                {
                  targetGroupArn: args.targetGroupArn,
                  containerName: p.name,
                  containerPort: p.port,
                },
              ]
            : undefined,
        healthCheckGracePeriodSeconds:
          args.targetGroupArn !== undefined ? p.healthcheck.startPeriodSeconds + 30 : undefined,
        enableExecuteCommand: false,
        propagateTags: "SERVICE",
        // `up` returns once the tasks are healthy, so dependants start after them.
        waitForSteadyState: true,
        tags: nameTag(phys),
      },
      {
        ...child,
        dependsOn: args.startAfter,
        // The autoscaler owns the task count of a stateless service.
        ignoreChanges: single ? undefined : ["desiredCount"],
      },
    );

    if (p.scaling !== undefined) {
      const target = new aws.appautoscaling.Target(
        `${name}-scaling`,
        {
          serviceNamespace: "ecs",
          scalableDimension: "ecs:service:DesiredCount",
          resourceId: pulumi.interpolate`service/${args.clusterName}/${this.service.name}`,
          minCapacity: p.scaling.min,
          maxCapacity: p.scaling.max,
        },
        child,
      );
      new aws.appautoscaling.Policy(
        `${name}-cpu`,
        {
          name: `${phys}-cpu`,
          policyType: "TargetTrackingScaling",
          serviceNamespace: target.serviceNamespace,
          scalableDimension: target.scalableDimension,
          resourceId: target.resourceId,
          targetTrackingScalingPolicyConfiguration: {
            predefinedMetricSpecification: {
              predefinedMetricType: "ECSServiceAverageCPUUtilization",
            },
            targetValue: p.scaling.cpuTarget,
            scaleInCooldown: 300,
            scaleOutCooldown: 60,
          },
        },
        child,
      );
    }

    this.registerOutputs({
      serviceName: this.service.name,
      taskDefinitionArn: this.taskDefinition.arn,
      accessPointId: this.accessPoint?.id,
    });
  }
}
