import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DataVolumeOutput } from "../docker-engine";
import { physicalName, TYPES } from "../../config/naming";
import { protectionSummary } from "../../protection";
import { Settings } from "../../config/settings";
import { partitionOf } from "../../config/aws";
import type { AwsEnvironment } from "../../aws/environment";
import { ALL_OUTBOUND, nameTag } from "../../aws/types";
import { InternalAlb } from "./alb";
import { EcsCluster } from "./cluster";
import { EcsSecrets } from "./secrets";
import { EcsService } from "./service";

export interface EcsRuntimeArgs {
  /** Validated settings of an `aws.runtime: ecs` stack (settings.ecs is set). */
  readonly settings: Settings;
  /** The shared AWS pieces: network, data key, RDS, EFS, the data clients' group. */
  readonly platform: AwsEnvironment;
  /** Configured secret values by variable (e.g. `API_KEY`); unset ones are left out. */
  readonly secretValues: Readonly<Record<string, pulumi.Input<string>>>;
}

/**
 * The Panopticon services on ECS Fargate, on the same network, key, RDS and EFS as
 * the Docker host: the cluster, the secrets, an ECR repository per service, a
 * security group per service that admits its port only from the services that call it
 * (and the load balancer), the internal load balancer, and one EcsService per
 * catalogue service, created in compose's start order.
 */
export class EcsRuntime extends pulumi.ComponentResource {
  public readonly services: Record<string, EcsService>;
  public readonly endpoints: pulumi.Output<Record<string, string>>;
  public readonly volumes: Record<string, DataVolumeOutput>;
  /** `postgresql://` URL of RDS, reachable from inside the VPC; secret. */
  public readonly connectionString: pulumi.Output<string>;
  public readonly protectionSummary: string;

  constructor(name: string, args: EcsRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.EcsRuntime, name, {}, opts);
    const s = args.settings;
    const plan = s.ecs;
    const a = s.aws;
    if (plan === undefined || a === undefined) {
      throw new Error(`stack ${s.stack}: the ECS runtime needs aws.runtime ecs settings`);
    }
    const env = args.platform;
    const child = { parent: this };
    const stack = s.stack;
    const partition = partitionOf(a.region);
    const vpcCidr = a.vpc
      ? aws.ec2.getVpcOutput({ id: a.vpc.id }, child).cidrBlock
      : pulumi.output(a.vpcCidr);

    const cluster = new EcsCluster(
      `${name}-ecs`,
      { stack, protection: s.protection, region: a.region, partition },
      child,
    );
    const used = new Set(plan.services.flatMap((p) => p.secretEnv));
    const secretValues = Object.fromEntries(
      Object.entries(args.secretValues).filter(([k]) => used.has(k)),
    );
    const secrets = new EcsSecrets(
      `${name}-secrets`,
      {
        stack,
        protection: s.protection,
        kmsKeyArn: env.key.arn,
        values: secretValues,
        database: {
          host: env.rds.address,
          port: env.rds.port,
          user: s.postgres.user,
          name: s.postgres.database,
          password: env.postgresPassword,
        },
      },
      child,
    );

    const sgs: Record<string, aws.ec2.SecurityGroup> = {};
    for (const p of plan.services) {
      // The service's ECR repository is the platform's (components/aws/image-repositories.ts),
      // one per service for both runtimes, so moving between them keeps it.
      sgs[p.name] = new aws.ec2.SecurityGroup(
        `${name}-${p.name}-sg`,
        {
          name: physicalName(s.project, stack, p.name),
          description: `Panopticon ${p.name}: its port from its callers and the load balancer only`,
          vpcId: env.network.vpcId,
          egress: [ALL_OUTBOUND],
          tags: nameTag(physicalName(s.project, stack, p.name)),
        },
        child,
      );
    }

    const listeners = plan.services
      .filter((p) => p.listenerPort !== undefined)
      .map((p) => ({ service: p.name, port: p.listenerPort! }));
    const alb =
      listeners.length === 0
        ? undefined
        : new InternalAlb(
            `${name}-alb`,
            {
              stack,
              protection: s.protection,
              vpcId: env.network.vpcId,
              subnetIds: env.network.privateSubnetIds,
              allowedCidrs: plan.settings.albAllowedCidrs ?? [vpcCidr],
              vpcCidr,
              certificateArn: plan.settings.certificateArn,
              listeners,
              targetPort: 8000,
              logRetentionDays: plan.settings.logRetentionDays,
              partition,
            },
            child,
          );

    // Separate rules (not inline ingress): two services that call each other would
    // otherwise make their groups depend on each other.
    for (const p of plan.services) {
      const from = [
        ...p.callers.map((c) => ({ id: c, sg: sgs[c].id })),
        ...(alb && p.listenerPort !== undefined
          ? [{ id: "load-balancer", sg: alb.securityGroup.id }]
          : []),
      ];
      for (const f of from) {
        new aws.vpc.SecurityGroupIngressRule(
          `${name}-${p.name}-from-${f.id}`,
          {
            securityGroupId: sgs[p.name].id,
            referencedSecurityGroupId: f.sg,
            ipProtocol: "tcp",
            fromPort: p.port,
            toPort: p.port,
            description: `${p.name} from ${f.id}`,
          },
          child,
        );
      }
    }

    const dataSg = env.dataClientSecurityGroup;
    const efs = env.efs;
    this.services = {};
    this.volumes = {};
    const byName = new Map(plan.services.map((p) => [p.name, p]));
    for (const svcName of plan.startOrder) {
      const p = byName.get(svcName)!;
      const usesData = p.database || p.fileData !== undefined;
      const svc = new EcsService(
        `${name}-${p.name}`,
        {
          stack,
          partition,
          region: a.region,
          plan: p,
          clusterArn: cluster.cluster.arn,
          clusterName: cluster.cluster.name,
          namespaceArn: cluster.namespace.arn,
          subnetIds: env.network.privateSubnetIds,
          securityGroupIds: [sgs[p.name].id, ...(usesData && dataSg ? [dataSg.id] : [])],
          logsKeyArn: cluster.logsKey.arn,
          logRetentionDays: plan.settings.logRetentionDays,
          kmsKeyArn: env.key.arn,
          secretArns: secrets.arns,
          database: p.database
            ? {
                host: env.rds.address,
                port: env.rds.port,
                user: s.postgres.user,
                name: s.postgres.database,
                secretArn: secrets.databaseArn,
                psqlImage: plan.settings.psqlImage,
              }
            : undefined,
          fileSystem: efs && { id: efs.fileSystemId, arn: efs.fileSystem.arn },
          targetGroupArn: alb?.targetGroupArns[p.name],
          stopTimeoutSeconds: s.stopGraceSeconds,
          startAfter: p.dependsOn.map((d) => this.services[d].service),
        },
        child,
      );
      this.services[p.name] = svc;
      if (p.fileData !== undefined && svc.accessPoint !== undefined) {
        this.volumes[p.fileData.key] = { backend: "efs", source: svc.accessPoint.id };
      }
    }

    const dns = alb?.dnsName ?? pulumi.output("");
    this.endpoints = dns.apply((host) =>
      Object.fromEntries(
        plan.services.map((p) => [
          p.name,
          p.listenerPort !== undefined
            ? `https://${host}:${p.listenerPort}`
            : `http://${p.name}:${p.port} (Service Connect, inside the cluster)`,
        ]),
      ),
    );
    this.connectionString = pulumi.secret(
      pulumi.interpolate`postgresql://${s.postgres.user}:${env.postgresPassword.apply(
        encodeURIComponent,
      )}@${env.rds.address}:${env.rds.port}/${s.postgres.database}`,
    );
    this.protectionSummary = protectionSummary(s.protection, "aws");
    this.registerOutputs({
      endpoints: this.endpoints,
      volumes: this.volumes,
      connectionString: this.connectionString,
      protectionSummary: this.protectionSummary,
    });
  }
}
