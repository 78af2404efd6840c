import * as fc from "fast-check";
import { subnetCidrs } from "../components/aws/network";
import { AWS_REGIONS } from "../components/config/aws-regions";
import {
  awsSettingsOf,
  parseSettings,
  rawFromStackFile,
  Settings,
} from "../components/config/settings";
import {
  architectureOf,
  awsSchema,
  DEFAULT_AWS_BACKENDS,
  partitionOf,
  rdsIdentifier,
} from "../components/config/aws";
import { promotedStackFile } from "./support/harness";
import { withAppImages } from "./support/app-images";

/*
 * The `panopticon:aws` block: what Pulumi.prod.yaml resolves to, the defaults, and
 * every bad value rejected with the key, the value and what was expected.
 */

const PROD = promotedStackFile("Pulumi.prod.yaml");
const ctx = { stack: "prod", baseDir: "/work/project" };

function withAws(aws: Record<string, unknown>, extra: Record<string, unknown> = {}): Settings {
  return parseSettings(
    withAppImages({ environment: "aws", aws: { region: "eu-west-1", ...aws }, ...extra }),
    ctx,
  );
}

function problems(aws: Record<string, unknown>, extra: Record<string, unknown> = {}): string[] {
  try {
    withAws(aws, extra);
  } catch (e) {
    expect((e as Error).name).toBe("ConfigError");
    return [...(e as { problems: string[] }).problems];
  }
  throw new Error("expected a ConfigError");
}

describe("Pulumi.prod.yaml", () => {
  const s = parseSettings(rawFromStackFile(PROD.config), ctx);

  test("is an AWS stack with every stateful flag on", () => {
    expect(s.environment).toBe("aws");
    expect(s.protection).toEqual({
      protect: true,
      retainOnDelete: true,
      deletionProtection: true,
      finalSnapshot: true,
    });
  });

  test("has no postgres service or data set: RDS replaces them", () => {
    expect(s.services.map((x) => x.name)).not.toContain("postgres");
    expect(s.dataSets.map((d) => d.key)).not.toContain("postgres");
  });

  test("ChromaDB data sets on EBS host directories, the model registry on an EFS volume", () => {
    const by = Object.fromEntries(s.dataSets.map((d) => [d.key, d]));
    for (const key of ["judge", "query", "evaluation"]) {
      expect(by[key].backend).toBe("ebs");
      expect(by[key].hostPath).toMatch(new RegExp(`^/mnt/panopticon-data/prod/[a-z_]+$`));
      expect(by[key].volumeName).toBeUndefined();
    }
    expect(by.model_registry).toMatchObject({
      backend: "efs",
      volumeName: "panopticon-prod-model-registry-data",
      hostPath: undefined,
    });
  });

  test("RDS: Multi-AZ, 14 days of backups, an engine major version", () => {
    expect(awsSettingsOf(s)?.rds).toMatchObject({
      multiAz: true,
      backupRetentionDays: 14,
      engineVersion: "15",
      preferredBackupWindow: "03:00-04:00",
    });
    expect(awsSettingsOf(s)?.adminCidrs).toEqual([]);
    expect(awsSettingsOf(s)?.adopt).toEqual({});
  });
});

describe("defaults of a minimal aws block", () => {
  const s = withAws({});
  test("create a VPC, a key and an SSM-only host; RDS Multi-AZ with 14 days of backups", () => {
    expect(awsSettingsOf(s)).toMatchObject({
      vpcCidr: "10.42.0.0/16",
      instanceType: "t3.large",
      adminCidrs: [],
      dataVolumeSizeGb: 100,
      dataMountPath: "/mnt/panopticon-data",
      ebsSnapshots: { time: "02:00", retain: 14 },
      rds: { multiAz: true, backupRetentionDays: 14 },
      adopt: {},
    });
    expect(awsSettingsOf(s)?.vpc).toBeUndefined();
    expect(awsSettingsOf(s)?.kmsKeyArn).toBeUndefined();
  });
  test("ChromaDB on EBS by default (SQLite locking over NFS is risky)", () => {
    expect(DEFAULT_AWS_BACKENDS).toMatchObject({ judge: "ebs", query: "ebs", evaluation: "ebs" });
    const backends = Object.fromEntries(s.dataSets.map((d) => [d.key, d.backend]));
    expect(backends).toEqual({ ...DEFAULT_AWS_BACKENDS });
  });
  test("the RDS identifier carries the stack", () => {
    expect(rdsIdentifier("panopticon", "prod")).toBe("panopticon-prod-postgres");
  });
});

describe("bad aws values name key, value and expectation", () => {
  const BAD: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      "region",
      { region: "Ireland" },
      /^panopticon:aws\.region = "Ireland": expected the name of an AWS region, e\.g\. eu-west-1$/,
    ],
    [
      "vpc missing subnets",
      { vpc: { id: "vpc-0abc12345def67890" } },
      /^panopticon:aws\.vpc\.privateSubnetIds = \(missing\): expected a list of at least two/,
    ],
    [
      "same subnet twice",
      {
        vpc: {
          id: "vpc-0abc12345def67890",
          privateSubnetIds: ["subnet-0abc12345def67890", "subnet-0abc12345def67890"],
        },
      },
      /^panopticon:aws\.vpc\.privateSubnetIds = .*: expected distinct subnet ids/,
    ],
    [
      "vpc typo",
      { vpc: { id: "vpc-0abc12345def67890", subnets: [] } },
      /panopticon:aws\.vpc\.subnets is not a known setting/,
    ],
    ["unknown key", { multiAz: true }, /^panopticon:aws\.multiAz is not a known setting/],
    [
      "vpcCidr too small",
      { vpcCidr: "10.0.0.0/27" },
      /vpcCidr = "10\.0\.0\.0\/27": expected a prefix between \/16 and \/24/,
    ],
    [
      "open SSH",
      { adminCidrs: ["10.0.0.0/8", "0.0.0.0/0"] },
      /adminCidrs\.1 = "0\.0\.0\.0\/0": must not open/,
    ],
    [
      "backend",
      { storage: { model_registry: "nfs" } },
      /storage\.model_registry = "nfs": expected "efs" or "ebs"/,
    ],
    [
      "retention 6",
      { rds: { backupRetentionDays: 6 } },
      /rds\.backupRetentionDays = 6: expected at least 7 days/,
    ],
    [
      "retention 1.5",
      { rds: { backupRetentionDays: 7.5 } },
      /rds\.backupRetentionDays = 7\.5: expected whole days/,
    ],
    [
      "multiAz as text",
      { rds: { multiAz: "yes" } },
      /rds\.multiAz = "yes": expected true or false/,
    ],
    [
      "storage max below allocated",
      { rds: { allocatedStorageGb: 100, maxAllocatedStorageGb: 50 } },
      /rds\.maxAllocatedStorageGb = 50: expected at least rds\.allocatedStorageGb \(100\)/,
    ],
    [
      "key in another region",
      { kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555" },
      /kmsKeyArn = .*: expected a key in the stack's region eu-west-1/,
    ],
    [
      "data volume too small",
      { dataVolumeSizeGb: 8 },
      /dataVolumeSizeGb = 8: expected a size in GiB, at least 20/,
    ],
    [
      "relative mount path",
      { dataMountPath: "data" },
      /dataMountPath = "data": expected an absolute path/,
    ],
    [
      "docker host URL",
      { dockerHost: "ec2-host" },
      /dockerHost = "ec2-host": expected a Docker host URL/,
    ],
    [
      "snapshot time",
      { ebsSnapshots: { time: "2am" } },
      /ebsSnapshots\.time = "2am": expected a UTC time/,
    ],
    [
      "efs id to adopt",
      { adopt: { efsFileSystemId: "efs-1" } },
      /adopt\.efsFileSystemId = "efs-1": expected an id like fs-/,
    ],
    [
      "efs lifecycle",
      { efs: { transitionToIa: "AFTER_2_DAYS" } },
      /efs\.transitionToIa = "AFTER_2_DAYS": expected an EFS lifecycle value/,
    ],
  ];

  test.each(BAD)("%s", (_label, aws, message) => {
    const found = problems(aws);
    expect(found.some((p) => message.test(p))).toBe(true);
  });

  test("every problem is reported at once", () => {
    const found = problems({
      region: "x",
      rds: { backupRetentionDays: 3 },
      adminCidrs: ["0.0.0.0/0"],
    });
    expect(found).toHaveLength(3);
  });

  test("the compliant twin of each bad value passes", () => {
    expect(() =>
      withAws({
        vpc: {
          id: "vpc-0abc12345def67890",
          privateSubnetIds: ["subnet-0abc12345def67890", "subnet-0123456789abcdef0"],
        },
        vpcCidr: "10.0.0.0/24",
        adminCidrs: ["10.0.0.0/8"],
        storage: { model_registry: "ebs" },
        rds: {
          backupRetentionDays: 7,
          multiAz: false,
          allocatedStorageGb: 100,
          maxAllocatedStorageGb: 100,
        },
        kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555",
        dockerHost: "ssh://ec2-user@panopticon-prod-docker",
        adopt: {
          efsFileSystemId: "fs-0abc1234",
          rdsInstanceIdentifier: "panopticon-prod-postgres",
        },
        efs: { transitionToIa: "AFTER_7_DAYS" },
      }),
    ).not.toThrow();
  });
});

describe("helpers", () => {
  test("partitionOf", () => {
    expect(partitionOf("eu-west-1")).toBe("aws");
    expect(partitionOf("cn-north-1")).toBe("aws-cn");
    expect(partitionOf("us-gov-west-1")).toBe("aws-us-gov");
  });

  test("architectureOf: Graviton families get arm64", () => {
    for (const t of ["t4g.large", "m7g.xlarge", "c7gn.large", "r6gd.large", "x2gd.large"])
      expect(architectureOf(t)).toBe("arm64");
    for (const t of ["t3.large", "m7i.large", "g5.xlarge", "m6idn.large", "inf2.xlarge"])
      expect(architectureOf(t)).toBe("x86_64");
  });

  test("awsSchema accepts what subnetCidrs can split (/16../24), and the subnets are disjoint and inside the VPC", () => {
    const toInt = (ip: string) => ip.split(".").reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
    const range = (c: string) => {
      const [ip, bits] = c.split("/");
      const start = toInt(ip);
      return [start, start + 2 ** (32 - Number(bits)) - 1];
    };
    fc.assert(
      fc.property(
        fc.tuple(
          fc.integer({ min: 1, max: 223 }),
          fc.integer({ min: 0, max: 255 }),
          fc.integer({ min: 0, max: 255 }),
        ),
        fc.integer({ min: 16, max: 24 }),
        ([a, b, c], prefix) => {
          const base = ((a << 24) | (b << 16) | (c << 8)) >>> 0;
          const masked = (base & ((0xffffffff << (32 - prefix)) >>> 0)) >>> 0;
          const vpc = `${[masked >>> 24, (masked >>> 16) & 255, (masked >>> 8) & 255, masked & 255].join(".")}/${prefix}`;
          expect(awsSchema.safeParse({ region: "eu-west-1", vpcCidr: vpc }).success).toBe(true);
          const subnets = subnetCidrs(vpc, 3).map(range);
          const [lo, hi] = range(vpc);
          subnets.forEach(([s, e], i) => {
            expect(s).toBeGreaterThanOrEqual(lo);
            expect(e).toBeLessThanOrEqual(hi);
            if (i > 0) expect(s).toBeGreaterThan(subnets[i - 1][1]);
          });
        },
      ),
    );
  });
});

describe("AWS regions", () => {
  it("the list is @pulumi/aws's Region enum, so a provider upgrade that adds one says so", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Region } = require("@pulumi/aws/types/enums") as { Region: Record<string, string> };
    expect([...AWS_REGIONS].sort()).toEqual(Object.values(Region).sort());
  });

  it("a real region passes, a near miss is refused with the region it was probably meant to be", () => {
    expect(awsSchema.safeParse({ region: "ap-southeast-7" }).success).toBe(true);
    const r = awsSchema.safeParse({ region: "eu-west-l" });
    expect(r.error?.issues[0].message).toBe(
      'expected the name of an AWS region, e.g. eu-west-1; did you mean "eu-west-1"?',
    );
  });
});
