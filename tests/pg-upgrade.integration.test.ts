import * as fs from "fs";
import * as path from "path";
import { formatBytes } from "../scripts/lib/archive";
import { restoreDump } from "../scripts/lib/pg-upgrade-restore";
import { startFixturePostgres } from "./support/docker-cli";
import { putChroma } from "./support/migrate-fixture";
import {
  cleanupEngine,
  ctr,
  docker,
  PG_IMAGE,
  psql,
  RUN,
  stackFile,
  startApp,
  TMP,
  tool,
  vol,
} from "./support/pg-engine";

/*
 * doctor and pg-upgrade against the real Docker engine, as separate processes the
 * way `npm run` starts them. Debian packages one Postgres major, so the upgrade's
 * dump/restore/verify/switch path runs major 15 to major 15, and the version
 * checks run against a data directory whose PG_VERSION names another major.
 * Every container and volume carries a random per-run stack name and is removed.
 */

jest.setTimeout(300_000);
afterAll(cleanupEngine);

describe("a volume-mode stack with Postgres 15 holding rows", () => {
  const stack = stackFile(`pgu${RUN}`);
  const D = ["--dir", TMP, "--stack", stack];
  const pg = ctr(stack, "postgres");
  const file = path.join(TMP, `Pulumi.${stack}.yaml`);

  beforeAll(() => {
    docker(["volume", "create", vol(stack, "postgres")]);
    startFixturePostgres(pg, `type=volume,src=${vol(stack, "postgres")}`);
    psql(
      pg,
      "CREATE TABLE items (id int PRIMARY KEY, body text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 2500) g; CREATE SCHEMA judge; CREATE TABLE judge.scores (n int); INSERT INTO judge.scores SELECT generate_series(1, 40);",
    );
    psql(pg, "CREATE DATABASE registry", "postgres");
    psql(
      pg,
      "CREATE TABLE models (name text); INSERT INTO models VALUES ('a'), ('b'), ('c');",
      "registry",
    );
    // A ChromaDB store with the documented layout and no documents: nothing in it goes unread.
    putChroma(stack, "query", [{ name: "queries", docs: [] }]);
    startApp(
      stack,
      "query-storage",
      "query",
      "/app/query_storage_data",
      "CHROMA_PERSIST_DIRECTORY=/app/query_storage_data",
    );
  });

  it("doctor: every service sees its data; PG_VERSION matches; exit 0", async () => {
    const r = await tool("doctor", D);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok\s+postgres: volume \S+-postgres-data holds data/);
    expect(r.stdout).toMatch(/ok\s+postgres: PG_VERSION 15 matches the stack's Postgres 15/);
    expect(r.stdout).toMatch(
      /ok\s+query: CHROMA_PERSIST_DIRECTORY=\/app\/query_storage_data is the mounted directory/,
    );
    expect(r.stdout).toMatch(/ok\s+judge: volume \S+ does not exist yet/);
  });

  it("pg-upgrade refuses a target below the current major, and changes nothing", async () => {
    const text = fs.readFileSync(file, "utf8");
    const r = await tool("pg-upgrade", [...D, "--to", "14"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--to = 14: lower than the current major 15/);
    expect(fs.readFileSync(file, "utf8")).toBe(text);
    expect(docker(["volume", "ls", "-q", "--filter", `name=${vol(stack, "postgres")}-pg`])).toBe(
      "",
    );
  });

  it("pg-upgrade refuses when the disk has too little room, and changes nothing", async () => {
    const text = fs.readFileSync(file, "utf8");
    const r = await tool("pg-upgrade", [...D, "--to", "15", "--headroom", "1000000000"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /not enough disk: the Docker disk holding volume \S+ has \S+ \S+ free, the upgrade needs/,
    );
    expect(fs.readFileSync(file, "utf8")).toBe(text);
    expect(fs.existsSync(path.join(TMP, "backups"))).toBe(false);
  });

  it("pg-upgrade refuses an unknown stack: exit 2", async () => {
    const r = await tool("pg-upgrade", ["--dir", TMP, "--stack", `nosuch${RUN}`, "--to", "15"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--stack = "nosuch\w+": expected a stack file/);
  });

  it("pg-upgrade 15 -> 15: backup, dump, new volume, restore, verify, stack file switched; old data kept", async () => {
    const before = fs.readFileSync(file, "utf8");
    const r = await tool("pg-upgrade", [...D, "--to", "15"]);
    expect(r.stderr).toMatch(
      /verified: 3 database\(s\), 3 table\(s\), 2543 row\(s\); extensions: plpgsql/,
    );
    // The restore says how far it got, between "restoring the dump" and "verified:".
    expect(r.stderr).toMatch(
      /restoring the dump\n(.*\n)*restored (\S+ \S+) of \2 in [\d.]+ s \(.*\/s\)\n(.*\n)*verified:/,
    );
    expect(r.code).toBe(0);
    const fresh = `${vol(stack, "postgres")}-pg15`;
    expect(r.stdout).toContain(`the stack now uses volume ${fresh}`);
    expect(r.stdout).toMatch(
      new RegExp(
        `to go back: set panopticon:volumeNames.postgres back to ${vol(stack, "postgres")}`,
      ),
    );
    // The stack file: only the one added setting differs, comments kept byte for byte.
    const after = fs.readFileSync(file, "utf8");
    expect(after.startsWith(before)).toBe(true);
    expect(after.slice(before.length)).toBe(`  panopticon:volumeNames:\n    postgres: ${fresh}\n`);
    // The backup: a manifest with the pg_dump, and the pg_dumpall next to it.
    const backup = /backup: (\S+)/.exec(r.stdout)![1];
    expect(fs.existsSync(path.join(backup, "manifest.json"))).toBe(true);
    expect(fs.statSync(path.join(`${backup}-dumpall`, "pg_dumpall.sql")).size).toBeGreaterThan(0);
    // The old server and its data are as they were.
    expect(psql(pg, "SELECT count(*) FROM items")).toBe("2500");
    // The new volume starts as a Postgres 15 cluster holding the same rows.
    const probe = `${pg}-probe`;
    startFixturePostgres(probe, `type=volume,src=${fresh}`);
    try {
      expect(psql(probe, "SELECT count(*) FROM items")).toBe("2500");
      expect(psql(probe, "SELECT count(*) FROM judge.scores")).toBe("40");
      expect(
        psql(probe, "SELECT string_agg(name, ',' ORDER BY name) FROM models", "registry"),
      ).toBe("a,b,c");
    } finally {
      docker(["rm", "-f", probe], true);
    }
    // No helper or upgrade container is left behind.
    expect(docker(["ps", "-aq", "--filter", `name=${pg}-upgrade`])).toBe("");
    // doctor now checks the new volume: it exists and holds the cluster.
    const d = await tool("doctor", D);
    expect(d.stdout).toMatch(new RegExp(`ok\\s+postgres: volume ${fresh} holds data`));
    expect(d.stdout).toMatch(
      /PROBLEM postgres: container \S+ mounts volume \S+-postgres-data at \/var\/lib\/postgresql\/data, not volume \S+-pg15/,
    );
    expect(d.code).toBe(1);
  });

  it("the restore step prints the bytes it has sent while it runs", async () => {
    psql(pg, "CREATE DATABASE progress_probe", "postgres");
    const sql = path.join(TMP, `progress-${RUN}.sql`);
    const rows = Array.from(
      { length: 4000 },
      (_, i) => `INSERT INTO t VALUES (${i}, '${"x".repeat(200)}');`,
    );
    fs.writeFileSync(
      sql,
      `\\connect progress_probe\nCREATE TABLE t (n int, s text);\n${rows.join("\n")}\n`,
    );
    const lines: string[] = [];
    const stderr = await restoreDump({
      container: pg,
      user: "postgres",
      file: sql,
      log: (l) => lines.push(l),
      everyMs: 0,
    });
    expect(stderr).toBe("");
    expect(psql(pg, "SELECT count(*) FROM t", "progress_probe")).toBe("4000");
    const size = fs.statSync(sql).size;
    const during = lines.filter((l) => /^ {2}restore of \S+ \S+: \S+ \S+ \(.*\/s\)$/.test(l));
    expect(during.length).toBeGreaterThan(0);
    expect(lines[lines.length - 1]).toMatch(
      new RegExp(`^restored (\\S+ \\S+) of \\1 in [\\d.]+ s`),
    );
    expect(lines[lines.length - 1]).toContain(formatBytes(size));
    psql(pg, "DROP DATABASE progress_probe", "postgres");
  });

  it("pg-upgrade refuses when the server is not running, and changes nothing", async () => {
    docker(["stop", "-t", "60", pg]);
    const text = fs.readFileSync(file, "utf8");
    const r = await tool("pg-upgrade", [...D, "--to", "16", "--image", PG_IMAGE]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /the Postgres server \S+ is not running: pg_dumpall reads the running server/,
    );
    expect(fs.readFileSync(file, "utf8")).toBe(text);
  });
});

describe("a bind-mode stack: the new major gets a sibling directory", () => {
  const dataDir = path.join(TMP, `data-${RUN}`);
  const stack = stackFile(`pgb${RUN}`, [
    "  panopticon:storageMode: bind",
    `  panopticon:dataDir: ${dataDir}`,
  ]);
  const D = ["--dir", TMP, "--stack", stack];
  const pg = ctr(stack, "postgres");
  const file = path.join(TMP, `Pulumi.${stack}.yaml`);

  beforeAll(() => {
    fs.mkdirSync(path.join(dataDir, "postgres"), { recursive: true });
    startFixturePostgres(pg, `type=bind,src=${path.join(dataDir, "postgres")}`);
    psql(pg, "CREATE TABLE items (id int); INSERT INTO items SELECT generate_series(1, 77);");
  });

  it("pg-upgrade 15 -> 15 restores into <dataDir>/postgres-pg15 and sets bindDir; doctor follows", async () => {
    const r = await tool("pg-upgrade", [...D, "--to", "15"]);
    expect(r.stderr).toMatch(/verified: 2 database\(s\), 1 table\(s\), 77 row\(s\)/);
    expect(r.code).toBe(0);
    const fresh = path.join(dataDir, "postgres-pg15");
    expect(r.stdout).toContain(`the stack now uses directory ${fresh}`);
    expect(fs.readFileSync(path.join(fresh, "PG_VERSION"), "utf8").trim()).toBe("15");
    expect(fs.readFileSync(file, "utf8")).toContain(
      `      image: ${PG_IMAGE} # the test image\n      data:\n        bindDir: postgres-pg15\n`,
    );
    expect(r.stdout).toMatch(
      /to go back: set panopticon:services.postgres.data.bindDir back to postgres /,
    );
    // The old directory still holds the old cluster, served by the old server.
    expect(fs.readFileSync(path.join(dataDir, "postgres", "PG_VERSION"), "utf8").trim()).toBe("15");
    expect(psql(pg, "SELECT count(*) FROM items")).toBe("77");
    const d = await tool("doctor", D);
    expect(d.stdout).toMatch(new RegExp(`ok\\s+postgres: directory ${fresh} holds data`));
    expect(d.stdout).toMatch(/ok\s+postgres: PG_VERSION 15 matches/);
  });
});
