import { spawnSync } from "child_process";
import { InvalidArgumentError } from "commander";
import { randomBytes, randomUUID } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fixtureCompose, writeFixtureCheckout } from "./bench/fixture-checkout";
import { FixtureDoc, randomVector, writeChroma } from "./bench/chroma-fixture";
import { parseOptions, run, toolCommand } from "./lib/cli";
import { Report } from "./lib/migrate/report";

/*
 * npm run bench:migrate -- [--rows 100000] [--runs 1] [--postgres-image IMAGE] [--helper-image IMAGE]
 *
 * migrate-data throughput on the real Docker engine: a throw-away local stack whose
 * Postgres holds a compose-era `queries` table of --rows rows and whose query data
 * set holds a ChromaDB collection `queries` of --rows documents, and the evaluation
 * data set a collection `evaluation_metrics` of as many, every one with a
 * 384-dimension vector. Runs `npm run migrate-data` --runs times as npm would start it and
 * prints, per source, rows/s as the report measures it (the copy and its
 * verification; the backup before it is timed apart), with the machine's load. A
 * report, not a test: nothing asserts a time. Everything it makes is removed.
 */

const REPO = path.resolve(__dirname, "..");

function rowsOption(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 1_000_000) {
    throw new InvalidArgumentError(
      `--rows = ${JSON.stringify(v)}: expected a whole number from 1 to 1000000`,
    );
  }
  return Number(v);
}

function runsOption(v: string): number {
  if (!/^([1-9]|10)$/.test(v)) {
    throw new InvalidArgumentError(
      `--runs = ${JSON.stringify(v)}: expected a whole number from 1 to 10`,
    );
  }
  return Number(v);
}

const program = toolCommand(
  "bench:migrate",
  "Measure npm run migrate-data on 3 x --rows rows with vectors",
)
  .option("--rows <n>", "rows in the table and documents in the collection", rowsOption, 100_000)
  .option(
    "--runs <n>",
    "migrations measured (the 0.1 tables are dropped before each)",
    runsOption,
    1,
  )
  .option(
    "--postgres-image <image>",
    "Postgres 15 image with pgvector",
    "panopticon-test/postgres:15",
  )
  .option("--helper-image <image>", "image with sh and cat", "panopticon-test/busybox:1");

interface Options {
  rows: number;
  runs: number;
  postgresImage: string;
  helperImage: string;
}

/** The throw-away stack: its name, its project directory, its Postgres container. */
interface Bench {
  readonly stack: string;
  readonly dir: string;
  readonly pg: string;
  readonly o: Options;
}

/** One measured migration: the load average around it, its wall time, its report. */
interface Run {
  readonly before: string;
  readonly after: string;
  readonly wall: number;
  readonly report: Report;
}

function sh(args: string[], input?: string): string {
  const r = spawnSync("docker", args, { encoding: "utf8", input, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0)
    throw new Error(`docker ${args.slice(0, 4).join(" ")} ... failed: ${r.stderr}`);
  return r.stdout.trim();
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

/** The stack's volume of a data set, as the program names it. */
const volumeOf = (b: Bench, set: string) => `panopticon-${b.stack}-${set.replace(/_/g, "-")}-data`;

async function main(): Promise<void> {
  const o = parseOptions<Options>(program);
  const stack = `benchmig${randomBytes(3).toString("hex")}`;
  const b: Bench = {
    stack,
    dir: fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-bench-migrate-")),
    pg: `panopticon-${stack}-postgres`,
    o,
  };
  writeStack(b);
  try {
    process.stderr.write(
      `bench:migrate: ${o.rows} rows in a table and ${o.rows} documents in each of two collections\n`,
    );
    const psql = startPostgres(b);
    fillTable(psql, o.rows);
    // The collection queries goes into items_queries after the table did (through its
    // indexes); evaluation_metrics goes into a table this run creates.
    putCollection(b, "query", "queries", "theme");
    putCollection(b, "evaluation", "evaluation_metrics", "metric_type");
    const runs: Run[] = [];
    for (let i = 0; i < o.runs; i++) {
      // Each run starts from the compose-era state: no 0.1 table yet.
      psql("DROP TABLE IF EXISTS items_queries, items_metrics");
      runs.push(migrateOnce(b));
      printRun(i, runs[i]);
    }
    printMedians(runs);
  } finally {
    cleanUp(b);
  }
}

/**
 * The stack file, over the compose-era layout (the data being migrated is compose-era
 * data); every image is pinned, so nothing is built from the fixture checkout.
 */
function writeStack(b: Bench): void {
  writeFixtureCheckout(path.join(b.dir, "checkout"), "compose-era");
  fs.writeFileSync(
    path.join(b.dir, `Pulumi.${b.stack}.yaml`),
    [
      "config:",
      "  panopticon:environment: local",
      `  panopticon:initImage: ${b.o.helperImage}`,
      "  panopticon:stopGraceSeconds: 60",
      "  panopticon:appSource: ./checkout",
      "  panopticon:services:",
      ...Object.keys(fixtureCompose("compose-era").services).flatMap((s) => [
        `    ${s}:`,
        `      image: ${s === "postgres" ? b.o.postgresImage : b.o.helperImage}`,
      ]),
      "",
    ].join("\n"),
  );
}

/** The stack's Postgres on its own volume, once it answers; returns a psql that runs SQL in it. */
function startPostgres(b: Bench): (sql: string) => string {
  sh(["volume", "create", volumeOf(b, "postgres")]);
  sh([
    "run",
    "-d",
    "--name",
    b.pg,
    "--mount",
    `type=volume,src=${volumeOf(b, "postgres")},dst=/var/lib/postgresql/data`,
    "-e",
    "POSTGRES_USER=postgres",
    "-e",
    "POSTGRES_DB=panopticon",
    b.o.postgresImage,
  ]);
  for (let i = 0; i < 120; i++) {
    const r = spawnSync(
      "docker",
      ["exec", b.pg, "psql", "-X", "-U", "postgres", "-d", "panopticon", "-tAc", "SELECT 1"],
      { encoding: "utf8" },
    );
    if (r.stdout?.trim() === "1") break;
    spawnSync("sleep", ["0.5"]);
  }
  const args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "panopticon"];
  return (sql) => sh(["exec", "-i", b.pg, ...args], sql);
}

/** The compose-era table `queries`: `rows` rows, each with a random 384-dimension vector. */
function fillTable(psql: (sql: string) => string, rows: number): void {
  psql(`CREATE EXTENSION vector;
      CREATE TABLE queries (id UUID PRIMARY KEY, query_text TEXT NOT NULL, embedding VECTOR(384),
        theme TEXT NOT NULL, metadata JSONB, created_at TIMESTAMP NOT NULL DEFAULT NOW());
      INSERT INTO queries SELECT gen_random_uuid(), 'query ' || i,
        (SELECT array_agg(random() * 2 - 1)::real[]::vector(384) FROM generate_series(1, 384) WHERE i > 0),
        'theme' || (i % 5), jsonb_build_object('theme', 'theme' || (i % 5)), now()
      FROM generate_series(1, ${rows}) i;`);
}

/** A ChromaDB collection of --rows documents, written here and copied into the data set's volume. */
function putCollection(b: Bench, set: string, name: string, key: string): void {
  const docs: FixtureDoc[] = Array.from({ length: b.o.rows }, (_, i) => ({
    id: randomUUID(),
    text: `${name} document ${i}`,
    metadata: { [key]: `kind${i % 5}`, timestamp: "2025-03-01T10:11:12.123457" },
    vector: randomVector(),
  }));
  const src = path.join(b.dir, set);
  fs.mkdirSync(src);
  writeChroma(path.join(src, "chroma.sqlite3"), [{ name, docs }]);
  sh(["volume", "create", volumeOf(b, set)]);
  sh([
    "run",
    "--rm",
    "--mount",
    `type=volume,src=${volumeOf(b, set)},dst=/data`,
    "--mount",
    `type=bind,src=${src},dst=/src,readonly`,
    b.o.helperImage,
    "cp",
    "/src/chroma.sqlite3",
    "/data/",
  ]);
}

/** `npm run migrate-data` of the stack, as npm would start it; its report is read back. */
function migrateOnce(b: Bench): Run {
  const before = load();
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join("scripts", "migrate-data.ts"),
      "--dir",
      b.dir,
      "--stack",
      b.stack,
    ],
    { cwd: REPO, encoding: "utf8" },
  );
  const wall = (Date.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`migrate-data exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  const report = JSON.parse(fs.readFileSync(/report (\S+)/.exec(r.stdout)![1], "utf8")) as Report;
  return { before, after: load(), wall, report };
}

function printRun(i: number, r: Run): void {
  const copied = r.report.sources.reduce((n, x) => n + x.seconds, 0);
  process.stdout.write(
    [
      `run ${i + 1}: load average ${r.before} before, ${r.after} after; ${r.wall.toFixed(1)} s wall, ` +
        `${copied.toFixed(1)} s copying and verifying, ${(r.wall - copied).toFixed(1)} s backup, planning and process start`,
      ...r.report.sources.map(
        (x) =>
          `  ${x.source} -> ${x.target}: ${x.read} rows in ${x.seconds.toFixed(2)} s = ${Math.round(x.read / x.seconds)} rows/s`,
      ),
      "",
    ].join("\n"),
  );
}

/** Per source, the median of the runs' copy + verification seconds. */
function printMedians(runs: readonly Run[]): void {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  process.stdout.write(
    [
      `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}); median of ${runs.length} run(s), copy + verification per source:`,
      ...runs[0].report.sources.map((x, j) => {
        const secs = median(runs.map((r) => r.report.sources[j].seconds));
        return `  ${x.source} -> ${x.target}: ${Math.round(x.read / secs)} rows/s (${secs.toFixed(2)} s)`;
      }),
      "",
    ].join("\n"),
  );
}

/** Removes the container, the volumes and the files (some written as root, by containers). */
function cleanUp(b: Bench): void {
  spawnSync("docker", ["rm", "-f", b.pg], { stdio: "ignore" });
  const volumes = ["postgres", "query", "evaluation"].map((set) => volumeOf(b, set));
  spawnSync("docker", ["volume", "rm", "-f", ...volumes], { stdio: "ignore" });
  spawnSync(
    "docker",
    [
      "run",
      "--rm",
      "--mount",
      `type=bind,src=${b.dir},dst=/t`,
      b.o.helperImage,
      "sh",
      "-c",
      "rm -rf /t/*",
    ],
    { stdio: "ignore" },
  );
  fs.rmSync(b.dir, { recursive: true, force: true });
}

run("bench:migrate", main);
