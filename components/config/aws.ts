import { z } from "zod";
import { DEFAULT_DATA_MOUNT_PATH, physicalName } from "./naming";
import { ecsSchema, RUNTIMES } from "./ecs";
import { AWS_REGIONS } from "./aws-regions";
import { didYouMean } from "./suggest";

/*
 * The `panopticon:aws` block of an `environment: aws` stack. Every key here is
 * environment-only: promotion never copies it from one stack to another.
 */

/** The key that lets an RDS engineVersion change cross a major (pg-upgrade and the guard name it). */
export const RDS_ALLOW_MAJOR_KEY = "panopticon:aws.rds.allowMajorVersionUpgrade";

/** ChromaDB keeps its metadata in SQLite, whose locking over NFS is risky: EBS by default. */
export const DEFAULT_AWS_BACKENDS: Record<string, "efs" | "ebs"> = {
  judge: "ebs",
  query: "ebs",
  evaluation: "ebs",
  model_registry: "efs",
};

const cidr = z
  .string()
  .regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, "expected an IPv4 CIDR such as 10.0.0.0/16");

const adminCidr = cidr.refine((c) => !c.endsWith("/0"), {
  message:
    "must not open the host to the whole internet (/0); use your VPN or office range, or SSM",
});

const awsId = (prefix: string, example: string) =>
  z
    .string({ error: `expected an id like ${example}` })
    .regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `expected an id like ${example}`);

const kmsArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/,
    "expected a KMS key ARN (arn:aws:kms:<region>:<account>:key/<uuid>); an alias causes a permanent diff and replaces the instance",
  );

export const awsSchema = z
  .object({
    region: z.string({ error: "expected an AWS region such as eu-west-1" }).check((ctx) => {
      if (!(AWS_REGIONS as readonly string[]).includes(ctx.value)) {
        ctx.issues.push({
          code: "custom",
          input: ctx.value,
          message: `expected the name of an AWS region, e.g. eu-west-1${didYouMean(ctx.value, AWS_REGIONS)}`,
        });
      }
    }),
    /** Where the services run: containers on one EC2 Docker host, or ECS on Fargate. */
    runtime: z
      .enum(RUNTIMES, { error: `expected one of ${RUNTIMES.map((r) => `"${r}"`).join(", ")}` })
      .default("docker-host"),
    /** Settings of the ECS runtime (components/config/ecs.ts); required when runtime is ecs. */
    ecs: ecsSchema.optional(),
    /** An existing VPC; omit to create a minimal private one. */
    vpc: z
      .object({
        id: awsId("vpc", "vpc-0abc12345def67890"),
        privateSubnetIds: z
          .array(awsId("subnet", "subnet-0abc12345def67890"), {
            error: "expected a list of at least two private subnet ids in different AZs",
          })
          .min(2, "expected at least two private subnets in different AZs (RDS needs two)"),
      })
      .strict()
      .optional(),
    /** CIDR of the VPC created when `vpc` is omitted; split into /(prefix+4) subnets. */
    vpcCidr: cidr
      .refine((c) => prefixOf(c) >= 16 && prefixOf(c) <= 24, {
        message: "expected a prefix between /16 and /24 (the VPC is split into three subnets)",
      })
      .default("10.42.0.0/16"),
    instanceType: z
      .string()
      .regex(/^[a-z0-9]+\.[a-z0-9]+$/, "expected an EC2 instance type such as t3.large")
      .default("t3.large"),
    /** Pin the host's AMI; omit to use the latest Amazon Linux 2023 (ignored after creation). */
    amiId: awsId("ami", "ami-0abc12345def67890").optional(),
    /** How the docker provider reaches the host, e.g. ssh://ec2-user@panopticon-prod (via SSM). */
    dockerHost: z
      .string()
      .regex(/^(ssh|tcp|unix):\/\/\S+$/, "expected a Docker host URL such as ssh://ec2-user@host")
      .optional(),
    /** SSH ingress ranges; empty means SSM only. Never /0. */
    adminCidrs: z.array(adminCidr).default([]),
    sshKeyName: z.string().min(1).optional(),
    dataVolumeSizeGb: z
      .number({ error: "expected a size in GiB, at least 20" })
      .int("expected a size in GiB, at least 20")
      .min(20, "expected a size in GiB, at least 20")
      .default(100),
    dataMountPath: z
      .string()
      .regex(/^\/[A-Za-z0-9/_-]+$/, "expected an absolute path on the host")
      .default(DEFAULT_DATA_MOUNT_PATH),
    storage: z
      .record(z.string(), z.enum(["efs", "ebs"], { error: 'expected "efs" or "ebs"' }))
      .default({}),
    /** An existing customer-managed key; omit to create one. */
    kmsKeyArn: kmsArn.optional(),
    efs: z
      .object({
        /** Move files not read for this long to EFS Infrequent Access. @default never */
        transitionToIa: z
          .enum(
            [
              "AFTER_1_DAY",
              "AFTER_7_DAYS",
              "AFTER_14_DAYS",
              "AFTER_30_DAYS",
              "AFTER_60_DAYS",
              "AFTER_90_DAYS",
              "AFTER_180_DAYS",
              "AFTER_270_DAYS",
              "AFTER_365_DAYS",
            ],
            { error: "expected an EFS lifecycle value such as AFTER_30_DAYS" },
          )
          .optional(),
      })
      .strict()
      .default({}),
    rds: z
      .object({
        instanceClass: z
          .string()
          .regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, "expected an RDS class such as db.t4g.medium")
          .default("db.t4g.medium"),
        engineVersion: z
          .string()
          .regex(/^\d+(\.\d+)?$/, "expected a Postgres major or major.minor version such as 16")
          .default("15"),
        allocatedStorageGb: z.number().int().min(20, "expected at least 20 GiB").default(50),
        maxAllocatedStorageGb: z.number().int().min(20).default(200),
        multiAz: z.boolean({ error: "expected true or false" }).default(true),
        backupRetentionDays: z
          .number({ error: "expected whole days between 7 and 35" })
          .int("expected whole days between 7 and 35")
          .min(7, "expected at least 7 days of backups")
          .max(35, "expected at most 35 days (the RDS limit)")
          .default(14),
        preferredBackupWindow: z
          .string()
          .regex(/^\d\d:\d\d-\d\d:\d\d$/, "expected a window such as 03:00-04:00")
          .default("03:00-04:00"),
        /**
         * Let this update move engineVersion to another major (RDS refuses a major change
         * without it). Set it for the upgrade only (npm run pg-upgrade prints the change),
         * then remove it. @default false
         */
        allowMajorVersionUpgrade: z.boolean({ error: "expected true or false" }).default(false),
      })
      .strict()
      .default({
        instanceClass: "db.t4g.medium",
        engineVersion: "15",
        allocatedStorageGb: 50,
        maxAllocatedStorageGb: 200,
        multiAz: true,
        backupRetentionDays: 14,
        preferredBackupWindow: "03:00-04:00",
        allowMajorVersionUpgrade: false,
      }),
    ebsSnapshots: z
      .object({
        time: z
          .string()
          .regex(/^\d\d:\d\d$/, "expected a UTC time such as 02:00")
          .default("02:00"),
        retain: z.number().int().min(1).max(1000).default(14),
      })
      .strict()
      .default({ time: "02:00", retain: 14 }),
    /**
     * Re-adoption after a teardown that retained resources: the next `pulumi up`
     * imports these instead of creating empty ones or failing on a name clash.
     */
    adopt: z
      .object({
        rdsInstanceIdentifier: z
          .string()
          .regex(/^[a-z][a-z0-9-]{0,62}$/, "expected an RDS instance identifier"),
        efsFileSystemId: awsId("fs", "fs-0abc1234"),
        ebsVolumeId: awsId("vol", "vol-0abc12345def67890"),
        kmsKeyId: z.string().regex(/^[0-9a-f-]{36}$/, "expected a KMS key id (uuid)"),
      })
      .partial()
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.runtime === "ecs" && a.ecs === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["ecs"],
        message: 'expected the ecs settings (at least certificateArn) for runtime "ecs"',
      });
    }
    if (a.ecs !== undefined && a.ecs.certificateArn.split(":")[3] !== a.region) {
      ctx.addIssue({
        code: "custom",
        path: ["ecs", "certificateArn"],
        message: `expected a certificate in the stack's region ${a.region} (a load balancer uses only its own region's)`,
      });
    }
    if (a.runtime !== "ecs" && a.ecs !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["ecs"],
        message: `applies to runtime "ecs" only (runtime is "${a.runtime}"): set aws.runtime to ecs or remove the block`,
      });
    }
    if (a.kmsKeyArn !== undefined && a.adopt.kmsKeyId !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["adopt", "kmsKeyId"],
        message:
          "cannot adopt a key when kmsKeyArn names an existing one: set only one of aws.kmsKeyArn and aws.adopt.kmsKeyId",
      });
    }
    if (a.kmsKeyArn !== undefined && a.kmsKeyArn.split(":")[3] !== a.region) {
      ctx.addIssue({
        code: "custom",
        path: ["kmsKeyArn"],
        message: `expected a key in the stack's region ${a.region}`,
      });
    }
    if (a.rds.maxAllocatedStorageGb < a.rds.allocatedStorageGb) {
      ctx.addIssue({
        code: "custom",
        path: ["rds", "maxAllocatedStorageGb"],
        message: `expected at least rds.allocatedStorageGb (${a.rds.allocatedStorageGb})`,
      });
    }
    if (
      a.vpc !== undefined &&
      new Set(a.vpc.privateSubnetIds).size !== a.vpc.privateSubnetIds.length
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["vpc", "privateSubnetIds"],
        message: "expected distinct subnet ids",
      });
    }
  });

/** The stack's RDS instance identifier, e.g. `panopticon-prod-postgres`. */
export function rdsIdentifier(project: string, stack: string): string {
  return physicalName(project, stack, "postgres");
}

function prefixOf(cidr: string): number {
  return Number(cidr.split("/")[1]);
}

/** The AWS partition of a region (ARNs of AWS managed policies differ per partition). */
export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** Graviton instance families (t4g, m7g, c7gn, ...) need an arm64 AMI. */
export function architectureOf(instanceType: string): "arm64" | "x86_64" {
  const family = instanceType.split(".")[0];
  return /^[a-z]+\d+[a-z]*g[a-z]*$/.test(family) ? "arm64" : "x86_64";
}

export type AwsSettings = z.output<typeof awsSchema>;
