import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../../config/naming";
import { ScalingSettings } from "../../config/ecs";
import { nameTag } from "../../aws/types";
import { EcsTaskDefinition, EcsTaskDefinitionArgs } from "./task-definition";

export interface EcsServiceArgs extends EcsTaskDefinitionArgs {
  readonly clusterArn: pulumi.Input<string>;
  readonly clusterName: pulumi.Input<string>;
  readonly namespaceArn: pulumi.Input<string>;
  readonly subnetIds: pulumi.Input<string>[];
  /** Its own group, plus the data clients' group when it uses RDS or EFS. */
  readonly securityGroupIds: pulumi.Input<string>[];
  readonly targetGroupArn?: pulumi.Input<string>;
  /** Services this one starts after: it is created once they are steady. */
  readonly startAfter: pulumi.Resource[];
}

/**
 * One Panopticon service on Fargate: its task (EcsTaskDefinition: log group, roles,
 * EFS access point, task definition) and the ECS service on Service Connect. A service
 * with file data is a single writer: one task, and a deployment stops the old task
 * before starting the new one. A stateless service scales on CPU between the
 * configured bounds. Nothing here holds data: the files live on EFS, the rows in RDS.
 */
export class EcsService extends pulumi.ComponentResource {
  public readonly service: aws.ecs.Service;
  public readonly task: EcsTaskDefinition;
  public readonly taskDefinition: aws.ecs.TaskDefinition;
  public readonly accessPoint?: aws.efs.AccessPoint;

  constructor(name: string, args: EcsServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.EcsService, name, {}, opts);
    // Named like the service: its children keep their names (and, by alias, their URNs).
    this.task = new EcsTaskDefinition(name, args, { parent: this });
    this.taskDefinition = this.task.taskDefinition;
    this.accessPoint = this.task.accessPoint;
    this.service = this.createService(name, args);
    if (args.plan.scaling !== undefined) this.scaleOnCpu(name, args, args.plan.scaling);
    this.registerOutputs({
      serviceName: this.service.name,
      taskDefinitionArn: this.taskDefinition.arn,
      accessPointId: this.accessPoint?.id,
    });
  }

  private createService(name: string, args: EcsServiceArgs): aws.ecs.Service {
    const p = args.plan;
    const single = p.scaling === undefined;
    const balanced = args.targetGroupArn !== undefined;
    return new aws.ecs.Service(
      `${name}-service`,
      {
        name: p.name,
        cluster: args.clusterArn,
        taskDefinition: this.taskDefinition.arn,
        desiredCount: single ? 1 : p.scaling.min,
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
        loadBalancers: balanced
          ? [{ targetGroupArn: args.targetGroupArn!, containerName: p.name, containerPort: p.port }]
          : undefined,
        healthCheckGracePeriodSeconds: balanced ? p.healthcheck.startPeriodSeconds + 30 : undefined,
        enableExecuteCommand: false,
        propagateTags: "SERVICE",
        // `up` returns once the tasks are healthy, so dependants start after them.
        waitForSteadyState: true,
        tags: nameTag(physicalName(PROJECT, args.stack, p.name)),
      },
      {
        parent: this,
        dependsOn: args.startAfter,
        // The autoscaler owns the task count of a stateless service.
        ignoreChanges: single ? undefined : ["desiredCount"],
      },
    );
  }

  /** Target tracking on the service's average CPU, between the configured bounds. */
  private scaleOnCpu(name: string, args: EcsServiceArgs, scaling: ScalingSettings): void {
    const target = new aws.appautoscaling.Target(
      `${name}-scaling`,
      {
        serviceNamespace: "ecs",
        scalableDimension: "ecs:service:DesiredCount",
        resourceId: pulumi.interpolate`service/${args.clusterName}/${this.service.name}`,
        minCapacity: scaling.min,
        maxCapacity: scaling.max,
      },
      { parent: this },
    );
    new aws.appautoscaling.Policy(
      `${name}-cpu`,
      {
        name: `${physicalName(PROJECT, args.stack, args.plan.name)}-cpu`,
        policyType: "TargetTrackingScaling",
        serviceNamespace: target.serviceNamespace,
        scalableDimension: target.scalableDimension,
        resourceId: target.resourceId,
        targetTrackingScalingPolicyConfiguration: {
          predefinedMetricSpecification: {
            predefinedMetricType: "ECSServiceAverageCPUUtilization",
          },
          targetValue: scaling.cpuTarget,
          scaleInCooldown: 300,
          scaleOutCooldown: 60,
        },
      },
      { parent: this },
    );
  }
}
