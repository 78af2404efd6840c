import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../../config/naming";
import { ProtectionPolicy, statefulOptions } from "../../protection";
import { nameTag } from "../../aws/types";

export interface EcsClusterArgs {
  readonly stack: string;
  readonly protection: ProtectionPolicy;
  readonly region: string;
  readonly partition: string;
}

/**
 * The ECS cluster (Fargate only, Container Insights on), the Cloud Map namespace
 * behind Service Connect (so `http://query-storage:8000` resolves as under compose),
 * and the KMS key of the services' log groups. CloudWatch Logs may use a key only
 * if the key's policy names the service, which the data key's default policy does
 * not; a key of its own leaves the data key (and today's prod) untouched. The key is
 * protected and retained: the logs it encrypts are unreadable without it.
 */
export class EcsCluster extends pulumi.ComponentResource {
  public readonly cluster: aws.ecs.Cluster;
  public readonly namespace: aws.servicediscovery.HttpNamespace;
  public readonly logsKey: aws.kms.Key;

  constructor(name: string, args: EcsClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.EcsCluster, name, {}, opts);
    const child = { parent: this };
    const phys = physicalName(PROJECT, args.stack);
    const account = aws.getCallerIdentityOutput({}, child).accountId;

    this.logsKey = new aws.kms.Key(
      `${name}-logs-key`,
      {
        description: `${phys}: CloudWatch Logs of the ECS services`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "AccountAdministers",
              Effect: "Allow",
              Principal: { AWS: pulumi.interpolate`arn:${args.partition}:iam::${account}:root` },
              Action: "kms:*",
              Resource: "*",
            },
            {
              Sid: "CloudWatchLogsOfThisStack",
              Effect: "Allow",
              Principal: { Service: `logs.${args.region}.amazonaws.com` },
              Action: [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
              ],
              Resource: "*",
              Condition: {
                ArnLike: {
                  "kms:EncryptionContext:aws:logs:arn": pulumi.interpolate`arn:${args.partition}:logs:${args.region}:${account}:log-group:/panopticon/${args.stack}/*`,
                },
              },
            },
          ],
        }),
        tags: nameTag(`${phys}-logs`),
      },
      { ...child, ...statefulOptions(args.protection) },
    );

    this.namespace = new aws.servicediscovery.HttpNamespace(
      `${name}-namespace`,
      { name: phys, description: `Service Connect names of ${phys}`, tags: nameTag(phys) },
      child,
    );
    this.cluster = new aws.ecs.Cluster(
      `${name}-cluster`,
      {
        name: phys,
        settings: [{ name: "containerInsights", value: "enabled" }],
        serviceConnectDefaults: { namespace: this.namespace.arn },
        tags: nameTag(phys),
      },
      child,
    );
    new aws.ecs.ClusterCapacityProviders(
      `${name}-capacity`,
      {
        clusterName: this.cluster.name,
        capacityProviders: ["FARGATE"],
        defaultCapacityProviderStrategies: [{ capacityProvider: "FARGATE", weight: 1, base: 0 }],
      },
      child,
    );
    this.registerOutputs({
      clusterArn: this.cluster.arn,
      namespaceArn: this.namespace.arn,
      logsKeyArn: this.logsKey.arn,
    });
  }
}
