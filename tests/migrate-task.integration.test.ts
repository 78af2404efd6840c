import { spawnSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { writeChroma } from "../scripts/bench/chroma-fixture";
import { Report } from "../scripts/lib/migrate/report";
import { docs } from "./support/migrate-docs";
import { rdsStandIn } from "./support/migrate-fixture";
import { PG_IMAGE } from "./support/pg-engine";

/*
 * migrate-data --in-task as the ECS one-off task runs it, on the real engine: the
 * tool bundled into one file exactly as scripts/migrate-task/Dockerfile bundles it
 * (esbuild), run by Node 24 as a non-root user in a container that has psql 15 (the
 * test Postgres image stands in for the Node base, which no registry here serves),
 * the ChromaDB data sets mounted read-only under /migrate, the URL in DATABASE_URL,
 * "RDS" a Postgres container reached only over a Docker network, and the AWS CLI a
 * script that records its calls. Twins: a data set the task names but nobody
 * mounted, and no DATABASE_URL; both stop before anything is touched.
 */

jest.setTimeout(600_000);

const RUN = randomBytes(3).toString("hex");
const REPO = path.resolve(__dirname, "..");
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-migtask-"));
const NET = `panopticon-test-migtask-${RUN}`;
const RDS = `panopticon-test-migtask-rds-${RUN}`;
const PASSWORD = `Pw${randomBytes(12).toString("hex")}`;
const DB_URL = `postgresql://postgres:${PASSWORD}@${RDS}:5432/panopticon`;
const STACK = `mtask${RUN}`;
const INSTANCE = `panopticon-${STACK}-postgres`;
const APP = path.join(TMP, "app");
const LOG = path.join(TMP, "log");
const MOUNTS = path.join(TMP, "mounts");
const query = docs("queries", 30);
const judge = docs("llm_outputs", 15);

function run(cmd: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawnSync(cmd, args, {
    encoding: "utf8",
    input: o.input,
    env: { ...process.env, ...o.env },
    maxBuffer: 64 * 1024 * 1024,
  });
}
function docker(args: string[], allowFail = false): string {
  const r = run("docker", args);
  if (r.status !== 0 && !allowFail)
    throw new Error(`docker ${args.slice(0, 4).join(" ")}: ${r.stderr}`);
  return (r.stdout ?? "").trim();
}
/** SQL against "RDS" the only way the tool may reach it too (tests/support/migrate-fixture.ts). */
const stand = rdsStandIn(NET, RDS, PASSWORD);
const rds = stand.sql;
const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const awsCalls = () =>
  fs.existsSync(path.join(LOG, "aws-calls.log"))
    ? fs.readFileSync(path.join(LOG, "aws-calls.log"), "utf8").trim().split("\n").filter(Boolean)
    : [];
const newTables = () =>
  rds(
    "SELECT count(*) FROM pg_class WHERE relname IN ('items_queries', 'items_metrics', 'llm_outputs')",
  );

/** The task: its variables, the data sets mounted read-only at /migrate/<set>. */
function task(o: { dataSets: string; mounted: string[]; url?: string }) {
  const env: Record<string, string> = {
    PANOPTICON_STACK: STACK,
    PANOPTICON_MIGRATE_DATA_SETS: o.dataSets,
    PANOPTICON_RDS_INSTANCE: INSTANCE,
    AWS_REGION: "eu-west-1",
    ...(o.url === undefined ? {} : { DATABASE_URL: o.url }),
  };
  return run(
    "docker",
    [
      ...["run", "--rm", "--network", NET, "--user", "999:999"],
      ...Object.keys(env).flatMap((k) => ["-e", k]), // values from this process, never argv
      ...[
        "-e",
        "AWS_STUB_LOG=/log/aws-calls.log",
        "-e",
        "PATH=/opt/bin:/usr/lib/postgresql/15/bin:/usr/bin:/bin",
      ],
      ...["--mount", `type=bind,src=${APP},dst=/app,readonly`],
      ...["--mount", `type=bind,src=${process.execPath},dst=/opt/bin/node,readonly`],
      ...["--mount", `type=bind,src=${path.join(TMP, "aws")},dst=/opt/bin/aws,readonly`],
      ...["--mount", `type=bind,src=${LOG},dst=/log`],
      ...o.mounted.flatMap((d) => [
        "--mount",
        `type=bind,src=${path.join(MOUNTS, d)},dst=/migrate/${d},readonly`,
      ]),
      ...[
        "--workdir",
        "/tmp",
        "--entrypoint",
        "node",
        PG_IMAGE,
        "/app/migrate-data.js",
        "--in-task",
      ],
    ],
    { env },
  );
}

const before: Record<string, string> = {};

beforeAll(async () => {
  const esbuild = run(path.join(REPO, "node_modules", ".bin", "esbuild"), [
    path.join(REPO, "scripts", "migrate-data.ts"),
    path.join(REPO, "scripts", "lib", "migrate", "collection-worker.ts"),
    ...[
      "--bundle",
      "--platform=node",
      "--target=node24",
      `--outdir=${APP}`,
      "--entry-names=[name]",
    ],
  ]);
  if (esbuild.status !== 0) throw new Error(esbuild.stderr);
  fs.mkdirSync(LOG);
  fs.chownSync(LOG, 999, 999);
  fs.writeFileSync(
    path.join(TMP, "aws"),
    ["#!/bin/sh", 'printf "%s\\n" "$*" >> "$AWS_STUB_LOG"', "exit 0", ""].join("\n"),
    { mode: 0o755 },
  );
  for (const [d, name, list] of [
    ["query", "queries", query],
    ["judge", "llm_outputs", judge],
  ] as const) {
    fs.mkdirSync(path.join(MOUNTS, d), { recursive: true });
    writeChroma(path.join(MOUNTS, d, "chroma.sqlite3"), [{ name, docs: list }]);
    before[d] = sha(path.join(MOUNTS, d, "chroma.sqlite3"));
  }
  fs.mkdirSync(path.join(MOUNTS, "evaluation"));
  await stand.start(40);
});

afterAll(() => {
  docker(["rm", "-f", RDS], true);
  docker(["network", "rm", NET], true);
  fs.rmSync(TMP, { recursive: true, force: true });
});

describe("migrate-data --in-task", () => {
  it("a data set the task names but nobody mounted: exit 3 naming it, nothing touched", () => {
    const r = task({
      dataSets: "query,judge,evaluation",
      mounted: ["query", "judge"],
      url: DB_URL,
    });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/data set\(s\) evaluation not mounted at \/migrate\/evaluation/);
    expect(awsCalls()).toEqual([]);
    expect(newTables()).toBe("0");
  });

  it("no DATABASE_URL: exit 2 naming it, nothing touched", () => {
    const r = task({ dataSets: "query", mounted: ["query"] });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/DATABASE_URL is not set/);
    expect(awsCalls()).toEqual([]);
    expect(newTables()).toBe("0");
  });

  it("snapshots RDS first, copies the table and both collections, verifies, reads only", () => {
    const r = task({ dataSets: "query,judge", mounted: ["query", "judge"], url: DB_URL });
    expect(r.stderr).toMatch(
      /backup first: RDS snapshot panopticon-mtask\w+-postgres-before-migrate-\d{8}t\d{6}z/,
    );
    expect(r.status).toBe(0);
    const calls = awsCalls();
    expect(calls[0]).toMatch(
      new RegExp(
        `^rds create-db-snapshot --db-instance-identifier ${INSTANCE} --db-snapshot-identifier ${INSTANCE}-before-migrate-\\S+ --region eu-west-1$`,
      ),
    );
    expect(calls[1]).toMatch(/^rds wait db-snapshot-available /);
    const report = JSON.parse(r.stdout.trim().split("\n").pop()!) as Report;
    expect(report.problems).toEqual([]);
    expect(report.sources.map((s) => [s.source, s.status, s.read, s.inserted])).toEqual([
      ["table queries", "migrated", 40, 40],
      ["collection queries in data set query", "migrated", 30, 30],
      ["collection llm_outputs in data set judge", "migrated", 15, 15],
    ]);
    expect(rds("SELECT count(*) FROM items_queries")).toBe("70");
    expect(rds("SELECT count(*) FROM llm_outputs")).toBe("15");
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(sha(path.join(MOUNTS, "query", "chroma.sqlite3"))).toBe(before.query);
    expect(sha(path.join(MOUNTS, "judge", "chroma.sqlite3"))).toBe(before.judge);
  });

  it("run again: nothing inserted, every row already present (exit 0)", () => {
    const r = task({ dataSets: "query,judge", mounted: ["query", "judge"], url: DB_URL });
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout.trim().split("\n").pop()!) as Report;
    expect(report.sources.map((s) => [s.inserted, s.alreadyPresent])).toEqual([
      [0, 40],
      [0, 30],
      [0, 15],
    ]);
  });
});
