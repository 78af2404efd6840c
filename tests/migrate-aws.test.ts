import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ecsSchema } from "../components/config/ecs";
import {
  databaseUrl,
  DEFAULT_PSQL_IMAGE,
  describeAwsBackup,
  dockerHostOf,
  planAwsBackup,
  refuseEcs,
} from "../scripts/lib/migrate/aws";
import { awsRunbook } from "../scripts/lib/migrate/aws-runbook";
import { pgEnvOf, PgUrl, scrub, urlLabel, urlRunArgs } from "../scripts/lib/migrate/pg";
import { loadStack } from "../scripts/lib/stack";
import { dockerHostStack, ecsStack } from "./support/migrate-aws-stacks";

/*
 * The AWS side of migrate-data without an engine: the URL taken apart into libpq's
 * variables (never an argument), the refusals, the snapshot plan, the Docker host it
 * reaches, and the runbook with the stack's names. The copy itself runs on the real
 * engine in migrate-aws.integration.test.ts.
 */

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-migaws-unit-"));
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));
const host = loadStack(dockerHostStack(DIR, "hostx", { dockerHost: "ssh://ec2-user@alias" }), DIR);
const bare = loadStack(dockerHostStack(DIR, "bare", { storage: { judge: "efs" } }), DIR);
const ecs = loadStack(ecsStack(DIR, "ecsx"), DIR);
const URL_ = "postgresql://app:p%40ss%3Aw0rd@db.example:6543/panopticon?sslmode=require";

describe("the RDS URL", () => {
  it("becomes libpq's variables, the password decoded", () => {
    expect(pgEnvOf(URL_)).toEqual({
      PGHOST: "db.example",
      PGPORT: "6543",
      PGUSER: "app",
      PGPASSWORD: "p@ss:w0rd",
      PGDATABASE: "panopticon",
      PGSSLMODE: "require",
    });
  });

  it("reaches the helper by variable name only: no argument holds the URL or the password", () => {
    const pg: PgUrl = { kind: "url", url: URL_, image: "img", label: urlLabel(URL_) };
    const args = urlRunArgs(pg, true).join(" ");
    expect(args).toContain("-e PGPASSWORD");
    expect(args).not.toMatch(/p%40ss|p@ss|db\.example/);
    expect(urlLabel(URL_)).toBe("postgresql://app@db.example:6543/panopticon?sslmode=require");
    expect(scrub(pg, `FATAL: x p@ss:w0rd y ${URL_}`)).toBe(
      `FATAL: x *** y postgresql://app@db.example:6543/panopticon?sslmode=require`,
    );
  });

  it("refuses, exit 2, without showing the value: missing, not a URL, an unknown parameter", () => {
    expect(() => databaseUrl({})).toThrow(
      /^PANOPTICON_DATABASE_URL is not set: export PANOPTICON_DATABASE_URL=\$\(pulumi stack output connectionString/,
    );
    for (const bad of [
      "mysql://u:secret1@h/d",
      "secret2",
      "postgres://u:secret3@h/d?krbsrvname=x",
    ]) {
      let message = "";
      try {
        databaseUrl({ PANOPTICON_DATABASE_URL: bad });
      } catch (e) {
        message = (e as Error).message;
        expect((e as Error).name).toBe("UsageError");
      }
      expect(message).toMatch(/^PANOPTICON_DATABASE_URL: /);
      expect(message).not.toMatch(/secret/);
    }
    expect(databaseUrl({ PANOPTICON_DATABASE_URL: URL_ })).toBe(URL_);
  });

  it("the default psql image is the ECS pgvector init container's", () => {
    expect(DEFAULT_PSQL_IMAGE).toBe(ecsSchema.shape.psqlImage.parse(undefined));
  });
});

describe("the Docker host and the runtime", () => {
  it("uses the stack's aws.dockerHost (what pulumi up reaches), else DOCKER_HOST, else exit 3", () => {
    expect(dockerHostOf(host, { DOCKER_HOST: "tcp://elsewhere:2375" })).toEqual({
      host: "ssh://ec2-user@alias",
      from: "panopticon:aws.dockerHost",
    });
    expect(dockerHostOf(bare, { DOCKER_HOST: "ssh://ec2-user@b" }).from).toBe("DOCKER_HOST");
    expect(() => dockerHostOf(bare, {})).toThrow(/DOCKER_HOST is not set/);
  });

  it("the Docker-host path refuses an ECS stack in one line naming the task's runbook; a Docker-host stack passes", () => {
    expect(() => refuseEcs(ecs)).toThrow(
      /^stack "ecsx" runs on ECS [^\n]*one-off task[^\n]*"AWS on ECS"[^\n]*$/,
    );
    expect(() => refuseEcs(host)).not.toThrow();
  });
});

describe("backup first on AWS", () => {
  const now = new Date("2026-12-01T21:07:08.123Z");

  it("plans an RDS snapshot and an EBS snapshot of the data disk; efs data sets are AWS Backup's", () => {
    const p = planAwsBackup(host, now);
    expect(p).toEqual({
      region: "eu-west-1",
      rds: {
        identifier: "panopticon-hostx-postgres",
        snapshotIdentifier: "panopticon-hostx-postgres-before-migrate-20261201t210708z",
      },
      ebs: {
        volumeId: undefined,
        nameTag: "panopticon-hostx-data",
        description: "panopticon hostx before migrate-data 20261201t210708z",
      },
      efsDataSets: ["model_registry"],
    });
    expect(planAwsBackup(host, now, "vol-0abc").ebs?.volumeId).toBe("vol-0abc");
    expect(planAwsBackup(bare, now).efsDataSets).toEqual(["judge", "model_registry"]);
    expect(
      describeAwsBackup(planAwsBackup(bare, now), {
        rdsSnapshot: "s1",
        ebsSnapshot: "snap-1 of vol-1",
      }),
    ).toBe(
      "RDS snapshot s1 of panopticon-bare-postgres; EBS snapshot snap-1 of vol-1 (the host's data disk); " +
        "EFS data sets judge, model_registry: AWS Backup (the file system's backup policy), no snapshot taken here",
    );
  });
});

describe("--print-aws-runbook", () => {
  it("Docker host: the commands that exist, with the stack's names", () => {
    const text = awsRunbook(host);
    expect(text).toContain("DOCKER_HOST=ssh://ec2-user@alias docker ps");
    expect(text).toContain(
      'export PANOPTICON_DATABASE_URL="$(pulumi stack output connectionString --stack hostx --show-secrets)"',
    );
    expect(text).toContain("npm run migrate-data -- --stack hostx\n");
    expect(text).toContain("/mnt/panopticon-data/hostx/query_storage");
    expect(text).toMatch(/Not run against AWS/);
  });

  it("ECS without the task's outputs: how to turn the task on, never a Docker-host step", () => {
    const text = awsRunbook(ecs);
    expect(text).toMatch(/runs as the stack's one-off task/);
    expect(text).toContain("panopticon:aws.ecs.migrationTask true --stack ecsx");
    expect(text).not.toContain("DOCKER_HOST");
  });
});
