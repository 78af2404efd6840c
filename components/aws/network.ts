import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName, PROJECT, TYPES } from "../config/naming";
import { nameTag } from "./types";

export interface AwsNetworkArgs {
  readonly stack: string;
  /** An existing VPC and at least two private subnets in different zones. @default create one */
  readonly existing?: { readonly id: string; readonly privateSubnetIds: readonly string[] };
  /** CIDR of the VPC created when `existing` is omitted. @default "10.42.0.0/16" */
  readonly vpcCidr: string;
}

/**
 * Splits a VPC CIDR into `count` equal subnets four bits longer (a /16 gives /20s),
 * leaving room for more subnets later. Pure, so it is unit-tested.
 */
export function subnetCidrs(vpcCidr: string, count: number): string[] {
  const [addr, bits] = vpcCidr.split("/");
  const prefix = Number(bits);
  const size = prefix + 4;
  if (!(prefix >= 8 && size <= 28) || count > 16) {
    throw new Error(`cannot split ${vpcCidr} into ${count} subnets of /${size}`);
  }
  const octets = addr.split(".").map(Number);
  const base =
    (((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0) &
    (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
  const step = 2 ** (32 - size);
  return Array.from({ length: count }, (_, i) => {
    const n = (base + i * step) >>> 0;
    return `${[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")}/${size}`;
  });
}

/**
 * Where everything runs: an existing VPC from config, or a minimal private one (two
 * private subnets in two zones for RDS and EFS, and one NAT gateway so the host can
 * reach package mirrors, container registries and SSM; nothing has a public IP and
 * no ingress comes from the internet).
 */
export class AwsNetwork extends pulumi.ComponentResource {
  public readonly vpcId: pulumi.Output<string>;
  /** Private subnets, in different availability zones. */
  public readonly privateSubnetIds: pulumi.Output<string>[];
  /** The subnet of the Docker host (the first private subnet). */
  public readonly hostSubnetId: pulumi.Output<string>;
  /** The host's zone; the EBS data volume must live there. */
  public readonly hostAvailabilityZone: pulumi.Output<string>;
  public readonly created: boolean;

  constructor(name: string, args: AwsNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.AwsNetwork, name, {}, opts);
    this.created = args.existing === undefined;
    const where = args.existing
      ? this.useExisting(args.existing)
      : this.createVpc(name, args.stack, args.vpcCidr);
    this.vpcId = where.vpcId;
    this.privateSubnetIds = where.privateSubnetIds;
    this.hostSubnetId = where.privateSubnetIds[0];
    this.hostAvailabilityZone = where.hostAvailabilityZone;
    this.registerOutputs({
      vpcId: this.vpcId,
      privateSubnetIds: this.privateSubnetIds,
      hostSubnetId: this.hostSubnetId,
      hostAvailabilityZone: this.hostAvailabilityZone,
    });
  }

  /** The configured VPC and subnets; the host goes into the first subnet's zone. */
  private useExisting(existing: NonNullable<AwsNetworkArgs["existing"]>): Placement {
    return {
      vpcId: pulumi.output(existing.id),
      privateSubnetIds: existing.privateSubnetIds.map((id) => pulumi.output(id)),
      hostAvailabilityZone: aws.ec2.getSubnetOutput(
        { id: existing.privateSubnetIds[0] },
        { parent: this },
      ).availabilityZone,
    };
  }

  /** A VPC with two private subnets in two zones, reaching out through one NAT gateway. */
  private createVpc(name: string, stack: string, vpcCidr: string): Placement {
    const child = { parent: this };
    const phys = (...parts: string[]) => physicalName(PROJECT, stack, ...parts);
    const zones = aws.getAvailabilityZonesOutput({ state: "available" }, child).names;
    const cidrs = subnetCidrs(vpcCidr, 3);
    const vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      {
        cidrBlock: vpcCidr,
        // EFS mounts by its DNS name, which needs both.
        enableDnsSupport: true,
        enableDnsHostnames: true,
        tags: nameTag(phys("vpc")),
      },
      child,
    );
    const privateSubnets = [0, 1].map(
      (i) =>
        new aws.ec2.Subnet(
          `${name}-private-${i}`,
          {
            vpcId: vpc.id,
            cidrBlock: cidrs[i],
            availabilityZone: zones[i],
            mapPublicIpOnLaunch: false,
            tags: nameTag(phys("private", String(i))),
          },
          child,
        ),
    );
    const nat = this.createNat(name, phys, vpc, cidrs[2], zones[0]);
    const privateRoutes = new aws.ec2.RouteTable(
      `${name}-private-routes`,
      {
        vpcId: vpc.id,
        routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.id }],
        tags: nameTag(phys("private")),
      },
      child,
    );
    privateSubnets.forEach(
      (s, i) =>
        new aws.ec2.RouteTableAssociation(
          `${name}-private-routes-${i}`,
          { subnetId: s.id, routeTableId: privateRoutes.id },
          child,
        ),
    );
    return {
      vpcId: vpc.id,
      privateSubnetIds: privateSubnets.map((s) => s.id),
      hostAvailabilityZone: privateSubnets[0].availabilityZone,
    };
  }

  /**
   * The NAT gateway needs a public subnet and an internet gateway; they carry only the
   * NAT's outbound traffic and its replies.
   */
  private createNat(
    name: string,
    phys: (...parts: string[]) => string,
    vpc: aws.ec2.Vpc,
    cidr: string,
    zone: pulumi.Input<string>,
  ): aws.ec2.NatGateway {
    const child = { parent: this };
    const igw = new aws.ec2.InternetGateway(
      `${name}-igw`,
      { vpcId: vpc.id, tags: nameTag(phys("igw")) },
      child,
    );
    const publicSubnet = new aws.ec2.Subnet(
      `${name}-public`,
      {
        vpcId: vpc.id,
        cidrBlock: cidr,
        availabilityZone: zone,
        mapPublicIpOnLaunch: false,
        tags: nameTag(phys("public")),
      },
      child,
    );
    const publicRoutes = new aws.ec2.RouteTable(
      `${name}-public-routes`,
      {
        vpcId: vpc.id,
        routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
        tags: nameTag(phys("public")),
      },
      child,
    );
    new aws.ec2.RouteTableAssociation(
      `${name}-public-routes`,
      { subnetId: publicSubnet.id, routeTableId: publicRoutes.id },
      child,
    );
    const natIp = new aws.ec2.Eip(
      `${name}-nat-ip`,
      { domain: "vpc", tags: nameTag(phys("nat")) },
      child,
    );
    return new aws.ec2.NatGateway(
      `${name}-nat`,
      { allocationId: natIp.id, subnetId: publicSubnet.id, tags: nameTag(phys("nat")) },
      { ...child, dependsOn: [igw] },
    );
  }
}

/** Where the network puts things. */
interface Placement {
  readonly vpcId: pulumi.Output<string>;
  readonly privateSubnetIds: pulumi.Output<string>[];
  readonly hostAvailabilityZone: pulumi.Output<string>;
}
