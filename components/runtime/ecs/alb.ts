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

  constructor(name: string, args: InternalAlbArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.InternalAlb, name, {}, opts);
    const child = { parent: this };
    const phys = physicalName(PROJECT, args.stack, "alb");
    const account = aws.getCallerIdentityOutput({}, child).accountId;

    this.securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        name: phys,
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
        tags: nameTag(phys),
      },
      child,
    );

    const bucketName = pulumi.interpolate`${phys}-logs-${account}`;
    const keep = { ...child, ...statefulOptions(args.protection) };
    const bucket = new aws.s3.Bucket(
      `${name}-logs`,
      {
        bucket: bucketName,
        forceDestroy: false,
        // The bucket's own access log, under a prefix of its own.
        logging: { targetBucket: bucketName, targetPrefix: "s3-access/" },
        tags: nameTag(`${phys}-logs`),
      },
      keep,
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
      {
        bucket: bucket.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "LoadBalancerLogs",
              Effect: "Allow",
              Principal: { Service: "logdelivery.elasticloadbalancing.amazonaws.com" },
              Action: "s3:PutObject",
              Resource: pulumi.interpolate`${bucket.arn}/alb/AWSLogs/${account}/*`,
            },
            {
              Sid: "ServerAccessLogs",
              Effect: "Allow",
              Principal: { Service: "logging.s3.amazonaws.com" },
              Action: "s3:PutObject",
              Resource: pulumi.interpolate`${bucket.arn}/s3-access/*`,
              Condition: { StringEquals: { "aws:SourceAccount": account } },
            },
            {
              Sid: "TlsOnly",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:*",
              Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
          ],
        }),
      },
      child,
    );

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
        accessLogs: { bucket: bucket.id, prefix: "alb", enabled: true },
        tags: nameTag(phys),
      },
      { ...child, dependsOn: [policy] },
    );

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
    this.targetGroupArns = targetGroupArns;
    this.dnsName = this.loadBalancer.dnsName;
    this.registerOutputs({ dnsName: this.dnsName, targetGroupArns });
  }
}
