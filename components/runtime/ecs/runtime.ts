import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, TYPES } from "../../config/naming";
import { protectionSummary } from "../../protection";
import { Settings, Target } from "../../config/settings";
import { EcsServicePlan } from "../../config/ecs-plan";
import { partitionOf } from "../../config/aws";
import type { AwsEnvironmentOutputs, AwsPlatform } from "../../aws/platform";
import { ALL_OUTBOUND, nameTag } from "../../aws/types";
import { DataVolumeOutput, postgresUrl, RuntimeOutputs } from "../shared";
import { InternalAlb } from "./alb";
import { EcsCluster } from "./cluster";
import { EcsSecrets } from "./secrets";
import { EcsService } from "./service";

export type EcsTarget = Extract<Target, { kind: "ecs" }>;

export interface EcsRuntimeArgs {
  /** Validated settings of an `aws.runtime: ecs` stack. */
  readonly settings: Settings;
  /** `settings.target`, narrowed to this runtime (it carries the ECS plan). */
  readonly target: EcsTarget;
  /** What it uses of the shared AWS pieces: network, data key, RDS, EFS, the data clients' group. */
  readonly platform: AwsPlatform;
  /** Configured secret values by variable (e.g. `API_KEY`); unset ones are left out. */
  readonly secretValues: Readonly<Record<string, pulumi.Input<string>>>;
}

/**
 * The Panopticon services on ECS Fargate, on the same network, key, RDS and EFS as
 * the Docker host: the cluster, the secrets, a security group per service that admits
 * its port only from the services that call it (and the load balancer), the internal
 * load balancer, and one EcsService per catalogue service, created in compose's start
 * order. Each service's ECR repository is the platform's
 * (components/aws/image-repositories.ts), one per service for both runtimes, so moving
 * between them keeps it.
 */
export class EcsRuntime extends pulumi.ComponentResource implements RuntimeOutputs {
  public readonly services: Record<string, EcsService> = {};
  public readonly endpoints: pulumi.Output<Record<string, string>>;
  public readonly volumes: Record<string, DataVolumeOutput> = {};
  /** `postgresql://` URL of RDS, reachable from inside the VPC; secret. */
  public readonly connectionString: pulumi.Output<string>;
  public readonly protectionSummary: string;
  /** The `aws` stack output: RDS, KMS, EBS and EFS ids (for re-adoption). */
  public readonly outputs: pulumi.Output<AwsEnvironmentOutputs>;

  private readonly args: EcsRuntimeArgs;

  constructor(name: string, args: EcsRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.EcsRuntime, name, {}, opts);
    this.args = args;
    const s = args.settings;
    const { aws: a, ecs: plan } = args.target;
    const platform = args.platform;
    const child = { parent: this };
    const cluster = new EcsCluster(
      `${name}-ecs`,
      {
        stack: s.stack,
        protection: s.protection,
        region: a.region,
        partition: partitionOf(a.region),
      },
      child,
    );
    const secrets = this.createSecrets(name);
    const sgs: Record<string, aws.ec2.SecurityGroup> = {};
    for (const p of plan.services) sgs[p.name] = this.createSecurityGroup(name, p);
    const alb = this.createAlb(name);
    this.admitCallers(name, sgs, alb);

    const byName = new Map(plan.services.map((p) => [p.name, p]));
    for (const svcName of plan.startOrder) {
      const p = byName.get(svcName)!;
      const svc = this.createService(name, p, { cluster, secrets, sg: sgs[p.name], alb });
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
      postgresUrl({
        user: s.postgres.user,
        password: platform.database.password,
        host: platform.database.host,
        port: platform.database.port,
        database: s.postgres.database,
      }),
    );
    this.protectionSummary = protectionSummary(s.protection, "aws");
    this.outputs = platform.outputs;
    this.registerOutputs({
      endpoints: this.endpoints,
      volumes: this.volumes,
      connectionString: this.connectionString,
      protectionSummary: this.protectionSummary,
    });
  }

  /** The configured API keys the services use, and the database's password and URL. */
  private createSecrets(name: string): EcsSecrets {
    const { settings: s, target, platform } = this.args;
    const used = new Set(target.ecs.services.flatMap((p) => p.secretEnv));
    return new EcsSecrets(
      `${name}-secrets`,
      {
        stack: s.stack,
        protection: s.protection,
        kmsKeyArn: platform.dataKeyArn,
        values: Object.fromEntries(
          Object.entries(this.args.secretValues).filter(([k]) => used.has(k)),
        ),
        database: {
          ...platform.database,
          user: s.postgres.user,
          name: s.postgres.database,
        },
      },
      { parent: this },
    );
  }

  private createSecurityGroup(name: string, p: EcsServicePlan): aws.ec2.SecurityGroup {
    const s = this.args.settings;
    const phys = physicalName(s.project, s.stack, p.name);
    return new aws.ec2.SecurityGroup(
      `${name}-${p.name}-sg`,
      {
        name: phys,
        description: `Panopticon ${p.name}: its port from its callers and the load balancer only`,
        vpcId: this.args.platform.vpcId,
        egress: [ALL_OUTBOUND],
        tags: nameTag(phys),
      },
      { parent: this },
    );
  }

  /** The internal load balancer, when a service is load-balanced. */
  private createAlb(name: string): InternalAlb | undefined {
    const { settings: s, target, platform } = this.args;
    const { aws: a, ecs: plan } = target;
    // Each listener forwards to its service's own port (a port override moves it too).
    const listeners = plan.services.flatMap((p) =>
      p.listenerPort === undefined
        ? []
        : [{ service: p.name, port: p.listenerPort, targetPort: p.port }],
    );
    if (listeners.length === 0) return undefined;
    const vpcCidr = a.vpc
      ? aws.ec2.getVpcOutput({ id: a.vpc.id }, { parent: this }).cidrBlock
      : pulumi.output(a.vpcCidr);
    return new InternalAlb(
      `${name}-alb`,
      {
        stack: s.stack,
        protection: s.protection,
        vpcId: platform.vpcId,
        subnetIds: platform.privateSubnetIds,
        allowedCidrs: plan.settings.albAllowedCidrs ?? [vpcCidr],
        vpcCidr,
        certificateArn: plan.settings.certificateArn,
        listeners,
        logRetentionDays: plan.settings.logRetentionDays,
        partition: partitionOf(a.region),
      },
      { parent: this },
    );
  }

  /**
   * Each service's port from its callers and the load balancer. Separate rules (not
   * inline ingress): two services that call each other would otherwise make their
   * groups depend on each other.
   */
  private admitCallers(
    name: string,
    sgs: Record<string, aws.ec2.SecurityGroup>,
    alb: InternalAlb | undefined,
  ): void {
    for (const p of this.args.target.ecs.services) {
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
          { parent: this },
        );
      }
    }
  }

  private createService(
    name: string,
    p: EcsServicePlan,
    on: {
      cluster: EcsCluster;
      secrets: EcsSecrets;
      sg: aws.ec2.SecurityGroup;
      alb?: InternalAlb;
    },
  ): EcsService {
    const { settings: s, target, platform } = this.args;
    const { aws: a, ecs: plan } = target;
    const dataSg = platform.dataClientSecurityGroupId;
    const usesData = p.database || p.fileData !== undefined;
    return new EcsService(
      `${name}-${p.name}`,
      {
        stack: s.stack,
        partition: partitionOf(a.region),
        region: a.region,
        plan: p,
        clusterArn: on.cluster.cluster.arn,
        clusterName: on.cluster.cluster.name,
        namespaceArn: on.cluster.namespace.arn,
        subnetIds: platform.privateSubnetIds,
        securityGroupIds: [on.sg.id, ...(usesData && dataSg ? [dataSg] : [])],
        logsKeyArn: on.cluster.logsKey.arn,
        logRetentionDays: plan.settings.logRetentionDays,
        kmsKeyArn: platform.dataKeyArn,
        secretArns: on.secrets.arns,
        database: p.database
          ? {
              host: platform.database.host,
              port: platform.database.port,
              user: s.postgres.user,
              name: s.postgres.database,
              secretArn: on.secrets.databaseArn,
              psqlImage: plan.settings.psqlImage,
            }
          : undefined,
        fileSystem: platform.fileSystem,
        targetGroupArn: on.alb?.targetGroupArns[p.name],
        stopTimeoutSeconds: s.stopGraceSeconds,
        startAfter: p.dependsOn.map((d) => this.services[d].service),
      },
      { parent: this },
    );
  }
}
