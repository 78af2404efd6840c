import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { FixtureDoc, writeChroma } from "../../scripts/bench/chroma-fixture";
import { startFixturePostgres } from "./docker-cli";
import { BUSYBOX, ctr, docker, PG_IMAGE, psql, TMP, vol } from "./pg-engine";

/*
 * A compose-era deployment made from PANOPTICON.md's facts, for the migration and
 * doctor tests: the stack's Postgres (the test image, with pgvector) holding the
 * tables `queries` / `evaluation_metrics` as the compose-era code creates them, and
 * chroma.sqlite3 files at the root of the query / evaluation / judge data sets.
 */

/** Compose-era DDL: query_storage/pg_query_storage.py, evaluation_metrics per PANOPTICON.md. */
const SOURCE_DDL: Record<string, string> = {
  queries: `CREATE TABLE queries (id UUID PRIMARY KEY, query_text TEXT NOT NULL,
    embedding VECTOR(384), theme TEXT NOT NULL, metadata JSONB,
    created_at TIMESTAMP NOT NULL DEFAULT NOW())`,
  evaluation_metrics: `CREATE TABLE evaluation_metrics (id UUID PRIMARY KEY, prompt TEXT NOT NULL,
    embedding VECTOR(384), metric_type TEXT NOT NULL, metadata JSONB,
    created_at TIMESTAMP NOT NULL DEFAULT NOW())`,
};

export function startStackPostgres(stack: string): string {
  const name = ctr(stack, "postgres");
  docker(["volume", "create", vol(stack, "postgres")]);
  startFixturePostgres(name, `type=volume,src=${vol(stack, "postgres")}`);
  psql(name, "CREATE EXTENSION IF NOT EXISTS vector");
  return name;
}

/** A compose-era table with `rows` rows, random 384-dimension vectors (one row without). */
export function composeTable(
  container: string,
  table: "queries" | "evaluation_metrics",
  rows: number,
) {
  for (const sql of composeTableSql(table, rows)) psql(container, sql);
}

/** The statements composeTable runs, for a database reached another way (by URL). */
export function composeTableSql(table: "queries" | "evaluation_metrics", rows: number): string[] {
  const [text, type] = table === "queries" ? ["query_text", "theme"] : ["prompt", "metric_type"];
  return [
    SOURCE_DDL[table],
    `INSERT INTO ${table} (id, ${text}, embedding, ${type}, metadata, created_at)
     SELECT gen_random_uuid(), '${table} text ' || i,
       CASE WHEN i = 1 THEN NULL ELSE
         (SELECT array_agg(random() * 2 - 1)::real[]::vector(384) FROM generate_series(1, 384) WHERE i > 0) END,
       'kind' || (i % 3), jsonb_build_object('${type}', 'kind' || (i % 3), 'n', i),
       timestamp '2025-01-01 00:00:00' + i * interval '1 minute'
     FROM generate_series(1, ${rows}) i`,
  ];
}

/** Writes chroma.sqlite3 into the root of a data set's volume. */
export function putChroma(
  stack: string,
  set: string,
  collections: ReadonlyArray<{ name: string; docs: readonly FixtureDoc[] }>,
): void {
  const dir = fs.mkdtempSync(path.join(TMP, `chroma-${set}-`));
  writeChroma(path.join(dir, "chroma.sqlite3"), collections);
  docker(["volume", "create", vol(stack, set)]);
  docker([
    "run",
    "--rm",
    "--mount",
    `type=volume,src=${vol(stack, set)},dst=/data`,
    "--mount",
    `type=bind,src=${dir},dst=/src,readonly`,
    BUSYBOX,
    "sh",
    "-c",
    "cp /src/chroma.sqlite3 /data/ && mkdir -p /data/0f0e-segment && echo hnsw > /data/0f0e-segment/data_level0.bin",
  ]);
}

/** sha256 of every file in a volume, sorted by path: equal before and after means untouched. */
export function volumeDigest(volume: string): string {
  return docker([
    "run",
    "--rm",
    "--mount",
    `type=volume,src=${volume},dst=/data,readonly`,
    BUSYBOX,
    "sh",
    "-c",
    "cd /data && find . -type f | sort | xargs sha256sum",
  ]);
}

/** md5 over a table's rows in id order (text, vector bytes, metadata, created_at). */
export function tableDigest(container: string, table: string): string {
  return psql(
    container,
    `SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM ${table} t`,
  );
}

/**
 * The upstream data's failure, made on a stack's Postgres volume: the relation file of
 * `table` removed while the server is stopped, then the server started again and
 * waited for. Returns the file's path inside the data directory.
 */
export async function removeRelationFile(
  stack: string,
  pg: string,
  table: string,
): Promise<string> {
  const file = psql(pg, `SELECT pg_relation_filepath('${table}')`);
  docker(["stop", pg]);
  docker([
    "run",
    "--rm",
    "--mount",
    `type=volume,src=${vol(stack, "postgres")},dst=/data`,
    BUSYBOX,
    "rm",
    `/data/${file}`,
  ]);
  docker(["start", pg]);
  for (let i = 0; i < 120; i++) {
    const ok = docker(
      ["exec", pg, "psql", "-X", "-U", "postgres", "-d", "panopticon", "-tAc", "SELECT 1"],
      true,
    );
    if (ok === "1") return file;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`${pg} did not come back`);
}

/**
 * A Postgres standing in for RDS: on its own Docker network, reached only the way the
 * tool reaches RDS (psql by host and password from a helper container), with pgvector
 * and the compose-era table `queries`.
 */
export function rdsStandIn(net: string, name: string, password: string) {
  const sql = (text: string): string => {
    const r = spawnSync(
      "docker",
      [
        ...["run", "--rm", "-i", "--network", net, "-e", "PGPASSWORD", "--entrypoint", "psql"],
        ...[PG_IMAGE, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", name, "-U", "postgres"],
        ...["-d", "panopticon"],
      ],
      {
        encoding: "utf8",
        input: text,
        env: { ...process.env, PGPASSWORD: password },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    if (r.status !== 0) throw new Error(`psql on ${name}: ${r.stderr}`);
    return (r.stdout ?? "").trim();
  };
  /** Starts it, waits until it answers, and fills `queries` with `rows` rows. */
  const start = async (rows: number): Promise<void> => {
    docker(["network", "create", net]);
    docker([
      ...["run", "-d", "--name", name, "--network", net, "-e", `POSTGRES_PASSWORD=${password}`],
      ...["-e", "POSTGRES_DB=panopticon", PG_IMAGE],
    ]);
    for (let i = 0; ; i++) {
      try {
        if (sql("SELECT 1") === "1") break;
      } catch (e) {
        if (i > 120) throw e;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    sql("CREATE EXTENSION IF NOT EXISTS vector");
    for (const statement of composeTableSql("queries", rows)) sql(statement);
  };
  return { sql, start };
}
