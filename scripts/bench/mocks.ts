import type * as pulumi from "@pulumi/pulumi";

/*
 * The engine stand-in for the benchmark: the same mock style and provider-computed
 * outputs as tests/harness.ts (a resource echoes its inputs plus the few outputs
 * the program reads). Type-only imports: the child process loads this file as
 * plain JavaScript, before the program's TypeScript hook exists.
 */

function digest(s: string): string {
  let h = 0x811c9dc5;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0").repeat(8);
}

const REGION = "eu-west-1";
const ACCOUNT = "123456789012";

function state(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  const i = args.inputs as Record<string, unknown>;
  const host = `${String(i.identifier ?? args.name)}.abc123.${REGION}.rds.amazonaws.com`;
  switch (args.type) {
    case "docker:index/remoteImage:RemoteImage":
      return { ...i, imageId: `sha256:${digest(String(i.name))}` };
    case "random:index/randomPassword:RandomPassword":
      return { ...i, result: `bench-${digest(args.name).slice(0, 16)}` };
    case "random:index/randomId:RandomId":
      return { ...i, hex: digest(args.name).slice(0, 8), b64Url: "YmVuY2g" };
    case "aws:rds/instance:Instance":
      return { ...i, address: host, endpoint: `${host}:5432`, port: i.port ?? 5432 };
    case "aws:ec2/instance:Instance":
      return { ...i, privateIp: "10.42.1.10", availabilityZone: `${REGION}a` };
    case "aws:efs/mountTarget:MountTarget":
      return { ...i, ipAddress: "10.42.1.20", dnsName: `fs-bench.efs.${REGION}.amazonaws.com` };
    case "aws:efs/fileSystem:FileSystem":
      return { ...i, dnsName: `fs-bench.efs.${REGION}.amazonaws.com` };
    case "aws:kms/key:Key":
      return { ...i, keyId: "0a1b2c3d-1111-2222-3333-444455556666" };
    default:
      return i;
  }
}

function invoke(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
  switch (args.token) {
    case "aws:ec2/getAmi:getAmi":
      return { id: "ami-0123456789abcdef0", imageId: "ami-0123456789abcdef0" };
    case "aws:index/getAvailabilityZones:getAvailabilityZones":
      return {
        names: ["a", "b", "c"].map((z) => `${REGION}${z}`),
        zoneIds: ["euw1-az1", "euw1-az2", "euw1-az3"],
      };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/bench`, userId: "bench" };
    case "aws:index/getRegion:getRegion":
      return { name: REGION, region: REGION, id: REGION };
    case "aws:ec2/getSubnet:getSubnet":
      return { ...args.inputs, availabilityZone: `${REGION}a`, cidrBlock: "10.0.1.0/24" };
    case "aws:ec2/getVpc:getVpc":
      return { ...args.inputs, cidrBlock: "10.0.0.0/16" };
    default:
      return { ...args.inputs, id: `${args.token}-result`, json: "{}" };
  }
}

/** Ids in AWS's shape where the program parses them (the EBS volume id in user data). */
const ID_PREFIX: Record<string, string> = {
  "aws:ebs/volume:Volume": "vol",
  "aws:ec2/instance:Instance": "i",
  "aws:ec2/securityGroup:SecurityGroup": "sg",
  "aws:ec2/subnet:Subnet": "subnet",
  "aws:ec2/vpc:Vpc": "vpc",
  "aws:efs/fileSystem:FileSystem": "fs",
};

function id(args: pulumi.runtime.MockResourceArgs): string {
  if (args.id) return args.id;
  const prefix = ID_PREFIX[args.type];
  return prefix ? `${prefix}-0${digest(args.name).slice(0, 16)}` : `${args.name}-id`;
}

export const benchMocks: pulumi.runtime.Mocks = {
  newResource(args) {
    // Every resource gets an ARN-shaped output, as the harness mocks give AWS resources.
    const arn = `arn:aws:mock:${REGION}:${ACCOUNT}:${args.type}/${args.name}`;
    return { id: id(args), state: { arn, ...state(args) } };
  },
  call: invoke,
};
