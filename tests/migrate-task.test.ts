import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ecsSchema } from "../components/config/ecs";
import { programMocks } from "../scripts/bench/mocks";
import { loadStack } from "../scripts/lib/stack";
import { awsRunbook } from "../scripts/lib/migrate/aws-runbook";
import { ecsStack } from "./support/migrate-aws-stacks";

/*
 * The ECS one-off migration task under the engine mocks: what it registers (image
 * from this repository's Dockerfile, read-only access points that create nothing, a
 * task definition mounting them read-only with the URL as a secret, a task role that
 * may only mount and snapshot), the same without data sets, the config key that turns
 * it on (off by default), and the runbook migrate-data prints from its outputs.
 */

interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}
const registered: Registered[] = [];
pulumi.runtime.setMocks(
  {
    newResource(args) {
      registered.push({ type: args.type, name: args.name, inputs: args.inputs });
      return programMocks.newResource(args);
    },
    call: (args) => programMocks.call(args),
  },
  "panopticon",
  "prod-ecs",
  false,
);

// Loaded after setMocks, so its resources register with the mocks.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const task =
  require("../components/runtime/ecs/migrate-task") as typeof import("../components/runtime/ecs/migrate-task");

const REPO = path.resolve(__dirname, "..");
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:panopticon-prod-ecs-db-AbCdEf";
const INSTANCE = "arn:aws:rds:eu-west-1:123456789012:db:panopticon-prod-ecs-postgres";

function build(
  name: string,
  dataSets: import("../components/runtime/ecs/migrate-task").MigrationDataSet[],
  withEfs = true,
) {
  return new task.MigrationTask(name, {
    stack: "prod-ecs",
    region: "eu-west-1",
    partition: "aws",
    protection: {
      protect: true,
      retainOnDelete: true,
      deletionProtection: true,
      finalSnapshot: true,
    },
    repoDir: REPO,
    clusterName: "panopticon-prod-ecs",
    subnetIds: ["subnet-a", "subnet-b"],
    securityGroupIds: ["sg-data"],
    kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k",
    logsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/l",
    logRetentionDays: 30,
    database: {
      secretArn: SECRET,
      instanceIdentifier: "panopticon-prod-ecs-postgres",
      instanceArn: INSTANCE,
    },
    fileSystem: withEfs
      ? { id: "fs-1", arn: "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-1" }
      : undefined,
    dataSets,
  });
}

const settle = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply(r));
const of = (prefix: string, type: string) =>
  registered.filter((r) => r.name.startsWith(prefix) && r.type === type);
const json = (v: unknown) => (typeof v === "string" ? JSON.parse(v) : v) as Record<string, unknown>;

describe("the migration task", () => {
  it("mounts each data set read-only through an access point that creates nothing, the URL as a secret", async () => {
    const t = build("mt", [
      { key: "query", efsPath: "/prod-ecs/query", uid: 0, gid: 0 },
      { key: "judge", efsPath: "/prod-ecs/judge", uid: 1000, gid: 1000 },
    ]);
    const out = await settle(t.outputs);
    expect(out).toEqual({
      cluster: "panopticon-prod-ecs",
      taskDefinition: "panopticon-prod-ecs-migrate-data",
      subnets: ["subnet-a", "subnet-b"],
      securityGroups: ["sg-data"],
      logGroup: "/panopticon/prod-ecs/migrate-data",
      container: "migrate-data",
    });
    const aps = of("mt-", "aws:efs/accessPoint:AccessPoint");
    expect(aps.map((a) => a.inputs.rootDirectory)).toEqual([
      { path: "/prod-ecs/query" },
      { path: "/prod-ecs/judge" },
    ]);
    expect(aps[1].inputs.posixUser).toEqual({ uid: 1000, gid: 1000 });
    const [image] = of("mt-", "docker-build:index:Image");
    expect(json(image.inputs.dockerfile).location).toBe(
      path.join(REPO, "scripts/migrate-task/Dockerfile"),
    );
    expect(fs.existsSync(path.join(REPO, "scripts/migrate-task/Dockerfile"))).toBe(true);
    const [td] = of("mt-", "aws:ecs/taskDefinition:TaskDefinition");
    const [c] = JSON.parse(String(td.inputs.containerDefinitions));
    expect(c.command).toEqual(["node", "/app/migrate-data.js", "--in-task"]);
    expect(c.mountPoints).toEqual([
      { sourceVolume: "query", containerPath: "/migrate/query", readOnly: true },
      { sourceVolume: "judge", containerPath: "/migrate/judge", readOnly: true },
    ]);
    expect(c.secrets).toEqual([{ name: "DATABASE_URL", valueFrom: `${SECRET}:url::` }]);
    expect(JSON.stringify(c.environment)).not.toContain("postgresql://");
    expect(c.environment).toContainEqual({
      name: "PANOPTICON_MIGRATE_DATA_SETS",
      value: "query,judge",
    });
    const vols = td.inputs.volumes as Array<{ efsVolumeConfiguration: Record<string, unknown> }>;
    expect(vols.map((v) => v.efsVolumeConfiguration.transitEncryption)).toEqual([
      "ENABLED",
      "ENABLED",
    ]);
  });

  it("lets the task mount without writing and snapshot the one instance, nothing else", async () => {
    const [p] = of("mt-", "aws:iam/rolePolicy:RolePolicy").filter(
      (r) => r.name === "mt-task-policy",
    );
    const statements = json(p.inputs.policy).Statement as Array<Record<string, unknown>>;
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions.sort()).toEqual([
      "elasticfilesystem:ClientMount",
      "rds:CreateDBSnapshot",
      "rds:DescribeDBSnapshots",
    ]);
    expect(statements[0].Resource).toEqual([
      INSTANCE,
      "arn:aws:rds:eu-west-1:123456789012:snapshot:panopticon-prod-ecs-postgres-before-migrate-*",
    ]);
  });

  it("data sets but no file system: refused before anything is registered", () => {
    const n = registered.length;
    expect(() =>
      build("nofs", [{ key: "query", efsPath: "/prod-ecs/query", uid: 0, gid: 0 }], false),
    ).toThrow(/data sets query are on EFS but no file system was given/);
    expect(registered.slice(n).filter((r) => r.name.startsWith("nofs-"))).toEqual([]);
  });

  it("without data sets (and without EFS): no access point, no volume, no EFS grant", async () => {
    const t = build("bare", [], false);
    await settle(t.outputs);
    expect(of("bare-", "aws:efs/accessPoint:AccessPoint")).toEqual([]);
    const [td] = of("bare-", "aws:ecs/taskDefinition:TaskDefinition");
    expect(td.inputs.volumes ?? []).toEqual([]);
    const [p] = registered.filter((r) => r.name === "bare-task-policy");
    expect(JSON.stringify(p.inputs.policy)).not.toContain("elasticfilesystem");
  });
});

describe("panopticon:aws.ecs.migrationTask", () => {
  const base = {
    certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/" + "0".repeat(36),
  };
  it("is off unless set to true; anything but a boolean is refused", () => {
    expect(ecsSchema.parse(base).migrationTask).toBe(false);
    expect(ecsSchema.parse({ ...base, migrationTask: true }).migrationTask).toBe(true);
    const r = ecsSchema.safeParse({ ...base, migrationTask: "yes" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({
      path: ["migrationTask"],
      message: "expected true or false",
    });
  });

  it("the data sets the task mounts: those on EFS, never Postgres's", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-mtask-"));
    try {
      const s = loadStack(ecsStack(dir, "ecsy"), dir);
      const sets = task.migrationDataSets(s);
      const efs = s.dataSets.filter((d) => d.backend === "efs" && d.service !== s.postgres.service);
      expect(sets.map((d) => d.key)).toEqual(efs.map((d) => d.key));
      expect(sets.every((d) => d.efsPath === `/ecsy/${d.key}`)).toBe(true);
      expect(sets.map((d) => d.key)).not.toContain(
        s.dataSets.find((d) => d.service === s.postgres.service)?.key,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the ECS runbook", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-mtask-rb-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const s = loadStack(ecsStack(dir, "ecsz"), dir);
  it("with the task's outputs: aws ecs run-task with the cluster, definition, subnets and group", () => {
    const text = awsRunbook(s, {
      cluster: "panopticon-ecsz",
      taskDefinition: "panopticon-ecsz-migrate-data",
      subnets: ["subnet-a", "subnet-b"],
      securityGroups: ["sg-data"],
      logGroup: "/panopticon/ecsz/migrate-data",
      container: "migrate-data",
    });
    expect(text).toContain("aws ecs run-task --region");
    expect(text).toContain(
      "--cluster panopticon-ecsz --task-definition panopticon-ecsz-migrate-data",
    );
    expect(text).toContain(
      "awsvpcConfiguration={subnets=[subnet-a,subnet-b],securityGroups=[sg-data],assignPublicIp=DISABLED}",
    );
    expect(text).toContain("aws logs tail /panopticon/ecsz/migrate-data");
  });
  it("without them (the task is off): how to turn it on, and no run-task", () => {
    const text = awsRunbook(s);
    expect(text).toContain(
      "pulumi config set --path --type bool panopticon:aws.ecs.migrationTask true --stack ecsz",
    );
    expect(text).not.toContain("run-task");
  });
});
