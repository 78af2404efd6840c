import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../../config/naming";
import { ProtectionPolicy, statefulOptions } from "../../protection";
import { nameTag } from "../../aws/types";

export interface InternalAlbArgs {
  readonly stack: string;
  readonly protection: ProtectionPolicy;
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets in at least two zones. */
  readonly subnetIds: pulumi.Input<string>[];
  /** Who may reach the listeners (never /0; the settings refuse it). */
  readonly allowedCidrs: pulumi.Input<pulumi.Input<string>[]>;
  /** Where the targets are (the VPC's CIDR): the only egress. */
  readonly vpcCidr: pulumi.Input<string>;
  readonly certificateArn: string;
  /** One HTTPS listener per service, forwarding to the service's own container port. */
  readonly listeners: ReadonlyArray<{
    readonly service: string;
    readonly port: number;
    /** The container port of the service's tasks (its `port`). */
    readonly targetPort: number;
  }>;
  readonly logRetentionDays: number;
  readonly partition: string;
}

/** AWS names of load balancers and target groups: at most 32 characters. */
export function shortName(...parts: string[]): string {
  return parts.join("-").slice(0, 32).replace(/-+$/, "");
}

/**
 * The internal Application Load Balancer in front of main-app and
 * visualization-service: private subnets only, HTTPS only (TLS 1.2+, the ACM
 * certificate from config, no plain-HTTP listener), reachable from the configured
 * ranges only, with access logs in an S3 bucket that logs its own access. The logs are
 * audit data: the bucket is protected and retained, and they expire after the
 * configured retention. AWS deletion protection follows the protection policy.
 */
export class InternalAlb extends pulumi.ComponentResource {
  public readonly loadBalancer: aws.lb.LoadBalancer;
  public readonly securityGroup: aws.ec2.SecurityGroup;
  public readonly targetGroupArns: Readonly<Record<string, pulumi.Output<string>>>;
  public readonly dnsName: pulumi.Output<string>;

  private readonly phys: string;

  constructor(name: string, args: InternalAlbArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.InternalAlb, name, {}, opts);
    this.phys = physicalName(PROJECT, args.stack, "alb");
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    this.securityGroup = this.createSecurityGroup(name, args);
    const logs = this.createLogBucket(name, args, account);
    this.loadBalancer = new aws.lb.LoadBalancer(
      `${name}-lb`,
      {
        name: shortName(PROJECT, args.stack),
        internal: true,
        loadBalancerType: "application",
        securityGroups: [this.securityGroup.id],
        subnets: args.subnetIds,
        dropInvalidHeaderFields: true,
        enableDeletionProtection: args.protection.deletionProtection,
        accessLogs: { bucket: logs.bucket.id, prefix: "alb", enabled: true },
        tags: nameTag(this.phys),
      },
      // The load balancer checks at creation that it may write its logs.
      { parent: this, dependsOn: [logs.policy] },
    );
    this.targetGroupArns = this.createListeners(name, args);
    this.dnsName = this.loadBalancer.dnsName;
    this.registerOutputs({ dnsName: this.dnsName, targetGroupArns: this.targetGroupArns });
  }

  /** HTTPS in on each listener port from the allowed ranges; out to the tasks' ports only. */
  private createSecurityGroup(name: string, args: InternalAlbArgs): aws.ec2.SecurityGroup {
    return new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        name: this.phys,
        description: "Panopticon internal load balancer: HTTPS from the allowed ranges",
        vpcId: args.vpcId,
        ingress: args.listeners.map((l) => ({
          description: `HTTPS to ${l.service}`,
          protocol: "tcp",
          fromPort: l.port,
          toPort: l.port,
          cidrBlocks: args.allowedCidrs,
        })),
        egress: [...new Set(args.listeners.map((l) => l.targetPort))].map((port) => ({
          description: "to the services' tasks",
          protocol: "tcp",
          fromPort: port,
          toPort: port,
          cidrBlocks: [args.vpcCidr],
        })),
        tags: nameTag(this.phys),
      },
      { parent: this },
    );
  }

  /** The access-log bucket (kept like data), private, encrypted, expiring, TLS only. */
  private createLogBucket(
    name: string,
    args: InternalAlbArgs,
    account: pulumi.Output<string>,
  ): { bucket: aws.s3.Bucket; policy: aws.s3.BucketPolicy } {
    const child = { parent: this };
    const bucketName = pulumi.interpolate`${this.phys}-logs-${account}`;
    const bucket = new aws.s3.Bucket(
      `${name}-logs`,
      {
        bucket: bucketName,
        forceDestroy: false,
        // The bucket's own access log, under a prefix of its own.
        logging: { targetBucket: bucketName, targetPrefix: "s3-access/" },
        tags: nameTag(`${this.phys}-logs`),
      },
      { ...child, ...statefulOptions(args.protection) },
    );
    new aws.s3.BucketPublicAccessBlock(
      `${name}-logs-private`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      child,
    );
    // Load balancer access logs support SSE-S3 only.
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-logs-encryption`,
      {
        bucket: bucket.id,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
      },
      child,
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-logs-expiry`,
      {
        bucket: bucket.id,
        rules: [
          {
            id: "expire",
            status: "Enabled",
            filter: {},
            expiration: { days: args.logRetentionDays },
          },
        ],
      },
      child,
    );
    const policy = new aws.s3.BucketPolicy(
      `${name}-logs-policy`,
      { bucket: bucket.id, policy: logBucketPolicy(bucket.arn, account) },
      child,
    );
    return { bucket, policy };
  }

  /** Per service: a target group on its tasks' port and an HTTPS listener forwarding to it. */
  private createListeners(
    name: string,
    args: InternalAlbArgs,
  ): Record<string, pulumi.Output<string>> {
    const child = { parent: this };
    const targetGroupArns: Record<string, pulumi.Output<string>> = {};
    for (const l of args.listeners) {
      const tg = new aws.lb.TargetGroup(
        `${name}-${l.service}`,
        {
          name: shortName(args.stack, l.service),
          port: l.targetPort,
          protocol: "HTTP",
          targetType: "ip",
          vpcId: args.vpcId,
          deregistrationDelay: 30,
          healthCheck: { path: "/health", matcher: "200", interval: 30, timeout: 10 },
          tags: nameTag(physicalName(PROJECT, args.stack, l.service)),
        },
        child,
      );
      new aws.lb.Listener(
        `${name}-${l.service}-https`,
        {
          loadBalancerArn: this.loadBalancer.arn,
          port: l.port,
          protocol: "HTTPS",
          sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
          certificateArn: args.certificateArn,
          defaultActions: [{ type: "forward", targetGroupArn: tg.arn }],
        },
        child,
      );
      targetGroupArns[l.service] = tg.arn;
    }
    return targetGroupArns;
  }
}

/**
 * Who may write to the log bucket: the load balancers' log delivery under `alb/`, S3's
 * own access logging (from this account) under `s3-access/`; nothing without TLS.
 */
function logBucketPolicy(
  bucketArn: pulumi.Output<string>,
  account: pulumi.Output<string>,
): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "LoadBalancerLogs",
        Effect: "Allow",
        Principal: { Service: "logdelivery.elasticloadbalancing.amazonaws.com" },
        Action: "s3:PutObject",
        Resource: pulumi.interpolate`${bucketArn}/alb/AWSLogs/${account}/*`,
      },
      {
        Sid: "ServerAccessLogs",
        Effect: "Allow",
        Principal: { Service: "logging.s3.amazonaws.com" },
        Action: "s3:PutObject",
        Resource: pulumi.interpolate`${bucketArn}/s3-access/*`,
        Condition: { StringEquals: { "aws:SourceAccount": account } },
      },
      {
        Sid: "TlsOnly",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, pulumi.interpolate`${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ],
  });
}
