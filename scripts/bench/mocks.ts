import type * as pulumi from "@pulumi/pulumi";

/*
 * The engine stand-in shared by the tests (tests/support/harness.ts) and the benchmark
 * (scripts/bench): a resource echoes its inputs plus the few provider-computed
 * outputs the program reads, with ids in AWS's shape where the program parses them.
 * Type-only imports and erasable syntax only: the benchmark's child process loads
 * a plain-JavaScript transpile of this file before any TypeScript hook exists.
 */

function hash(s: string): string {
  let h = 0x811c9dc5;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0").repeat(8);
}

/**
 * A build's inputs as text without the directory the checkout sits in, so the same
 * fixture gives the same digest in every clone (the registration records compare them).
 */
function portableJson(v: unknown): string {
  return JSON.stringify(v).replace(/"[^"]*\/tests\/fixtures\//g, '"<fixtures>/');
}

/** Provider-computed outputs the program reads, per resource type; everything else echoes inputs. */
function mockState(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  const i = args.inputs as Record<string, unknown>;
  switch (args.type) {
    case "docker:index/remoteImage:RemoteImage":
      return {
        ...i,
        imageId: `sha256:${hash(String(i.name))}`,
        repoDigest: `${i.name}@sha256:${hash(String(i.name))}`,
      };
    case "docker-build:index:Image": {
      // The build's content is its inputs here: same inputs, same digest.
      const digest = `sha256:${hash(portableJson(i))}`;
      return { ...i, digest, contextHash: hash(portableJson(i.context)), ref: "" };
    }
    case "aws:ecr/repository:Repository":
      return {
        ...i,
        arn: `arn:aws:ecr:eu-west-1:123456789012:repository/${i.name}`,
        repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${i.name}`,
      };
    case "random:index/randomPassword:RandomPassword":
      return { ...i, result: `generated-${args.name}-${hash(args.name).slice(0, 12)}` };
    case "random:index/randomId:RandomId":
      return { ...i, hex: hash(args.name).slice(0, 8), b64Url: "bW9jaw" };
    case "aws:rds/instance:Instance":
      return {
        ...i,
        address: `${i.identifier ?? args.name}.abc123.eu-west-1.rds.amazonaws.com`,
        endpoint: `${i.identifier ?? args.name}.abc123.eu-west-1.rds.amazonaws.com:5432`,
        port: i.port ?? 5432,
        arn: `arn:aws:rds:eu-west-1:123456789012:db:${args.name}`,
      };
    case "aws:ec2/instance:Instance":
      return {
        ...i,
        privateIp: "10.42.1.10",
        availabilityZone: "eu-west-1a",
        arn: `arn:aws:ec2:::${args.name}`,
      };
    case "aws:efs/mountTarget:MountTarget":
      return { ...i, ipAddress: "10.42.1.20", dnsName: "fs-mock.efs.eu-west-1.amazonaws.com" };
    case "aws:efs/fileSystem:FileSystem":
      return {
        ...i,
        dnsName: "fs-0abc1234.efs.eu-west-1.amazonaws.com",
        arn: `arn:aws:elasticfilesystem:::${args.name}`,
      };
    case "aws:kms/key:Key":
      return {
        ...i,
        arn: "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666",
        keyId: "0a1b2c3d-1111-2222-3333-444455556666",
      };
    case "aws:lb/loadBalancer:LoadBalancer":
      return {
        ...i,
        dnsName: `internal-${i.name}-1234567890.eu-west-1.elb.amazonaws.com`,
        arn: `arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/${i.name}/0123456789abcdef`,
      };
    case "aws:secretsmanager/secret:Secret":
      return {
        ...i,
        arn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${i.name}-AbCdEf`,
      };
    case "aws:efs/accessPoint:AccessPoint":
      return {
        ...i,
        arn: `arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0${hash(args.name).slice(0, 16)}`,
      };
    case "aws:ecr/repository:Repository":
      return { ...i, repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${i.name}` };
    default:
      return { ...i, arn: `arn:aws:mock:eu-west-1:123456789012:${args.type}/${args.name}` };
  }
}

/** AWS ids in their real shape where the program parses them (e.g. the EBS volume id in user data). */
const ID_PREFIXES: Record<string, string> = {
  "aws:ebs/volume:Volume": "vol",
  "aws:ec2/instance:Instance": "i",
  "aws:ec2/securityGroup:SecurityGroup": "sg",
  "aws:ec2/subnet:Subnet": "subnet",
  "aws:ec2/vpc:Vpc": "vpc",
  "aws:efs/fileSystem:FileSystem": "fs",
  "aws:efs/accessPoint:AccessPoint": "fsap",
  "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
};

function mockId(args: pulumi.runtime.MockResourceArgs): string {
  const prefix = ID_PREFIXES[args.type];
  return prefix ? `${prefix}-0${hash(args.name).slice(0, 16)}` : `${args.name}-id`;
}

export const programMocks: pulumi.runtime.Mocks = {
  newResource(args) {
    return { id: args.id || mockId(args), state: mockState(args) };
  },
  call(args) {
    switch (args.token) {
      case "aws:ec2/getAmi:getAmi":
        return { id: "ami-0123456789abcdef0", imageId: "ami-0123456789abcdef0" };
      case "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {
          names: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
          zoneIds: ["euw1-az1", "euw1-az2", "euw1-az3"],
        };
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return {
          accountId: "123456789012",
          arn: "arn:aws:iam::123456789012:user/test",
          userId: "test",
        };
      case "aws:index/getRegion:getRegion":
        return { name: "eu-west-1", region: "eu-west-1", id: "eu-west-1" };
      case "aws:ec2/getSubnet:getSubnet":
        return {
          ...args.inputs,
          availabilityZone: "eu-west-1a",
          cidrBlock: "10.0.1.0/24",
          vpcId: "vpc-0abc12345def67890",
        };
      case "aws:ec2/getVpc:getVpc":
        return { ...args.inputs, cidrBlock: "10.0.0.0/16" };
      default:
        return { ...args.inputs, id: `${args.token}-result`, json: "{}" };
    }
  },
};
