import { docker } from "./docker";

/*
 * What an upgrade must carry over, read from a running server: per database,
 * every table's exact row count and every installed extension with its version.
 */

export interface ClusterFacts {
  /** database -> "schema.table" -> rows */
  readonly rows: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** database -> ["plpgsql 1.0", "vector 0.6.0", ...] */
  readonly extensions: Readonly<Record<string, readonly string[]>>;
}

const COUNT_SQL =
  "SELECT table_schema || '.' || table_name, " +
  "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', " +
  "table_schema, table_name), false, true, '')))[1]::text " +
  "FROM information_schema.tables WHERE table_type = 'BASE TABLE' " +
  "AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";

const EXT_SQL = "SELECT extname || ' ' || extversion FROM pg_extension ORDER BY 1";

async function query(container: string, user: string, db: string, sql: string): Promise<string[]> {
  const r = await docker([
    "exec",
    container,
    "psql",
    "-X",
    "-U",
    user,
    "-d",
    db,
    "-v",
    "ON_ERROR_STOP=1",
    "-F",
    "\t",
    "-tAc",
    sql,
  ]);
  return r.stdout.split("\n").filter((l) => l !== "");
}

export async function databasesOf(container: string, user: string): Promise<string[]> {
  return query(
    container,
    user,
    "postgres",
    "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1",
  );
}

export async function clusterFacts(container: string, user: string): Promise<ClusterFacts> {
  const rows: Record<string, Record<string, number>> = {};
  const extensions: Record<string, string[]> = {};
  for (const db of await databasesOf(container, user)) {
    rows[db] = Object.fromEntries(
      (await query(container, user, db, COUNT_SQL)).map((l) => {
        const [t, n] = l.split("\t");
        return [t, Number(n)];
      }),
    );
    extensions[db] = await query(container, user, db, EXT_SQL);
  }
  return { rows, extensions };
}

/** Every difference between the old and the new cluster, as sentences; empty when they match. */
export function compareFacts(before: ClusterFacts, after: ClusterFacts): string[] {
  const out: string[] = [];
  for (const db of Object.keys(before.rows)) {
    const b = before.rows[db];
    const a = after.rows[db];
    if (a === undefined) {
      out.push(`database ${db} is missing after the restore`);
      continue;
    }
    for (const [t, n] of Object.entries(b)) {
      if (a[t] === undefined) out.push(`${db}: table ${t} is missing after the restore`);
      else if (a[t] !== n) out.push(`${db}: table ${t} has ${a[t]} rows, expected ${n}`);
    }
    const missing = before.extensions[db].filter(
      (e) => !after.extensions[db]?.some((x) => x.split(" ")[0] === e.split(" ")[0]),
    );
    for (const e of missing)
      out.push(`${db}: extension ${e.split(" ")[0]} is missing after the restore`);
  }
  return out;
}

/** Total rows and tables, for the report. */
export function summarize(f: ClusterFacts): string {
  const dbs = Object.keys(f.rows);
  const tables = dbs.reduce((n, db) => n + Object.keys(f.rows[db]).length, 0);
  const rows = dbs.reduce((n, db) => n + Object.values(f.rows[db]).reduce((m, x) => m + x, 0), 0);
  const ext = [...new Set(dbs.flatMap((db) => f.extensions[db]))].sort().join(", ");
  return `${dbs.length} database(s), ${tables} table(s), ${rows} row(s); extensions: ${ext || "none"}`;
}
