import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { docs } from "./support/migrate-docs";
import {
  composeTable,
  putChroma,
  removeRelationFile,
  startStackPostgres,
} from "./support/migrate-fixture";
import { cleanupEngine, psql, RUN, stackFile, TMP, tool } from "./support/pg-engine";
import { Report } from "../scripts/lib/migrate/report";

/*
 * migrate-data when things go wrong, on the real engine: a damaged table (one
 * relation file removed) is named and skipped while the rest migrates; documents
 * that cannot become rows are named; a run killed mid-copy leaves nothing half
 * written and a rerun completes without duplicates; a failed backup stops the
 * migration before anything is written; bad arguments and a missing environment
 * change nothing. The clean twin of each is in tests/migrate.integration.test.ts.
 */

jest.setTimeout(600_000);
afterAll(cleanupEngine);

const reportOf = (stdout: string) =>
  JSON.parse(fs.readFileSync(/report (\S+)/.exec(stdout)![1], "utf8")) as Report;

describe("a damaged table and unusable documents", () => {
  const stack = stackFile(`mgd${RUN}`);
  let pg = "";
  const query = docs("queries", 10);
  // No theme: item_type is NOT NULL in 0.1's table, so this one cannot be copied.
  query[3] = { ...query[3], metadata: { timestamp: "2025-01-01T00:00:00" } };
  let r: { code: number | null; stdout: string; stderr: string };
  let refused: typeof r;
  let file = "";

  beforeAll(async () => {
    pg = startStackPostgres(stack);
    composeTable(pg, "queries", 20);
    composeTable(pg, "evaluation_metrics", 15);
    putChroma(stack, "query", [{ name: "queries", docs: query }]);
    // The upstream data's failure: one relation file of `queries` is gone.
    file = await removeRelationFile(stack, pg, "queries");
    refused = await tool("migrate-data", ["--dir", TMP, "--stack", stack]);
    r = await tool("migrate-data", ["--dir", TMP, "--stack", stack, "--backup-raw"]);
  });

  it("pg_dump cannot back up a damaged table: without --backup-raw nothing is migrated (exit 1)", () => {
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /the backup failed, so nothing was migrated: .*could not open file .*--backup-raw stops Postgres/,
    );
    expect(refused.stderr).not.toMatch(/copying/);
  });

  it("with --backup-raw the backup archives the data directory's files, and Postgres runs again", () => {
    expect(r.stderr).toMatch(/stopping panopticon-\S+-postgres .* for a raw backup/);
    expect(r.stderr).toMatch(/postgres: archived/);
    expect(r.stderr).toMatch(/is running again/);
  });

  it("names the damaged table with Postgres's own error and exits 1", () => {
    expect(r.code).toBe(1);
    const rep = reportOf(r.stdout);
    const q = rep.sources.find((s) => s.source === "table queries")!;
    expect(q.status).toBe("damaged");
    expect(q.error).toContain(`could not open file "${file}"`);
    expect(r.stdout).toMatch(
      /PROBLEM table queries -> items_queries: damaged, skipped: could not open file "base\//,
    );
  });

  it("still migrates every other source", () => {
    const rep = reportOf(r.stdout);
    const e = rep.sources.find((s) => s.source === "table evaluation_metrics")!;
    expect([e.status, e.read, e.inserted]).toEqual(["migrated", 15, 15]);
    expect(psql(pg, "SELECT count(*) FROM items_metrics")).toBe("15");
    const c = rep.sources.find((s) => s.source === "collection queries in data set query")!;
    expect([c.status, c.read, c.inserted, c.unusable]).toEqual(["migrated", 10, 9, 1]);
    expect(psql(pg, "SELECT count(*) FROM items_queries")).toBe("9");
  });

  it("names the document it could not copy, with the reason", () => {
    expect(r.stdout).toContain(
      `${query[3].id} (no "theme" in its metadata (column item_type is NOT NULL))`,
    );
  });
});

describe("a run killed mid-copy", () => {
  const stack = stackFile(`mgk${RUN}`);
  const N = 40_000;
  let pg = "";

  beforeAll(() => {
    pg = startStackPostgres(stack);
    putChroma(stack, "query", [{ name: "queries", docs: docs("queries", N) }]);
  });

  it("leaves the target without a single row of that source; the rerun copies each document once", async () => {
    const killed = await new Promise<string>((resolve) => {
      const c = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          path.join("scripts", "migrate-data.ts"),
          "--dir",
          TMP,
          "--stack",
          stack,
        ],
        { cwd: path.resolve(__dirname, "..") },
      );
      let err = "";
      c.stderr.on("data", (b: Buffer) => {
        err += b.toString();
        const m = /collection queries in data set query: (\d+)\/40000 documents streamed/.exec(err);
        if (m && Number(m[1]) > 0 && Number(m[1]) < N) c.kill("SIGKILL");
      });
      c.on("close", () => resolve(err));
    });
    expect(killed).toMatch(/\d+\/40000 documents streamed/);
    expect(killed).not.toMatch(/40000\/40000/);
    // The orphaned psql sees its input end early: the sentinel check rolls it back.
    for (let i = 0; i < 60; i++) {
      const busy = psql(
        pg,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'psql' AND pid <> pg_backend_pid()",
      );
      if (busy === "0") break;
      await new Promise((res) => setTimeout(res, 500));
    }
    // Not one row, not even the table: the whole transaction was rolled back.
    expect(psql(pg, "SELECT to_regclass('items_queries') IS NULL")).toBe("t");

    const again = await tool("migrate-data", ["--dir", TMP, "--stack", stack]);
    expect(again.code).toBe(0);
    expect(psql(pg, "SELECT count(*) || ' ' || count(DISTINCT id) FROM items_queries")).toBe(
      `${N} ${N}`,
    );
    const s = reportOf(again.stdout).sources[0];
    expect([s.read, s.inserted, s.alreadyPresent]).toEqual([N, N, 0]);
  });
});

describe("refusals change nothing", () => {
  const stack = stackFile(`mgr${RUN}`);
  let pg = "";
  const noTargets = () =>
    psql(
      pg,
      "SELECT count(*) FROM pg_class WHERE relname IN ('items_queries', 'items_metrics', 'llm_outputs')",
    );

  beforeAll(() => {
    pg = startStackPostgres(stack);
    composeTable(pg, "queries", 5);
  });

  it("a backup that fails stops the migration before anything is written (exit 1)", async () => {
    const taken = path.join(TMP, `taken-${stack}`);
    fs.mkdirSync(taken);
    fs.writeFileSync(path.join(taken, "keep"), "x");
    const r = await tool("migrate-data", ["--dir", TMP, "--stack", stack, "--backup-dir", taken]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /the backup failed, so nothing was migrated: --out = .*expected a new or empty directory/,
    );
    expect(noTargets()).toBe("0");
  });

  it("a bad argument exits 2 with one line naming it, the value and what was expected", async () => {
    const r = await tool("migrate-data", ["--dir", TMP, "--stack", "no such stack!"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `migrate-data: error: --stack = "no such stack!": expected a Pulumi stack name (letters, digits, _ . -)`,
    );
    const missing = await tool("migrate-data", ["--dir", TMP, "--stack", `absent${RUN}`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--stack = "absent\w+": expected a stack file/);
    expect(noTargets()).toBe("0");
  });

  it("no Docker engine is a missing environment: exit 3", async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          path.join("scripts", "migrate-data.ts"),
          "--dir",
          TMP,
          "--stack",
          stack,
        ],
        {
          cwd: path.resolve(__dirname, ".."),
          env: { ...process.env, DOCKER_HOST: "unix:///nonexistent.sock" },
        },
      );
      let stderr = "";
      c.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      c.on("close", (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no Docker engine answers/);
    expect(noTargets()).toBe("0");
  });

  it("the same stack with a usable backup directory migrates (the twin of the refusals)", async () => {
    const r = await tool("migrate-data", [
      "--dir",
      TMP,
      "--stack",
      stack,
      "--backup-dir",
      path.join(TMP, `fresh-${stack}`),
    ]);
    expect(r.code).toBe(0);
    expect(psql(pg, "SELECT count(*) FROM items_queries")).toBe("5");
  });
});

describe("the same item in two compose-era stores", () => {
  const stack = stackFile(`mgn${RUN}`);
  let pg = "";
  const [d] = docs("queries", 1);
  // What upstream's own migrate_to_postgres.py leaves: the ChromaDB query copied into
  // the table under a new id.
  const twin = { ...d, text: "queries text 1", metadata: { ...d.metadata, theme: "kind1" } };

  beforeAll(() => {
    pg = startStackPostgres(stack);
    composeTable(pg, "queries", 3);
    putChroma(stack, "query", [{ name: "queries", docs: [twin] }]);
  });

  it("keeps both, exits 0, and says so in a note (the clean run in migrate.integration.test.ts gets none)", async () => {
    const r = await tool("migrate-data", ["--dir", TMP, "--stack", stack]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /note {4}items_queries: 1 text\(s\) stored more than once under different ids .*: all kept/,
    );
    expect(psql(pg, "SELECT count(*) FROM items_queries WHERE item_text = 'queries text 1'")).toBe(
      "2",
    );
    expect(reportOf(r.stdout).notes.filter((n) => /more than once/.test(n))).toHaveLength(1);
  });
});
