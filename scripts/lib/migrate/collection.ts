import { createHash } from "crypto";
import { Readable } from "stream";
import { Collection, openChroma, readDocuments } from "./chroma";
import { copyStream, newTally, Sample, SENTINEL, Tally } from "./collection-stream";
import { decodeFloat32, timestampField, vectorField, vectorLiteral } from "./copy-binary";
import { lit, psql, PgTarget, tableExists } from "./pg";
import { SourceReport, Verification } from "./report";
import { DIMENSIONS, loadStatements, stagingColumns, TargetTable, TARGET_COLUMNS } from "./targets";

/*
 * One ChromaDB collection into its 0.1 table, in one transaction: the documents
 * stream as binary COPY (collection-stream.ts) into a temporary table whose trigger
 * inserts each one into the target, ON CONFLICT (id) DO NOTHING, as it arrives. Into
 * a table this transaction creates, nothing can conflict (ids are unique per
 * collection, checked by the stream), so the rows go straight into it.
 * The transaction commits only when the stream's closing sentinel row arrived: a
 * stream cut short by the tool's death is rolled back instead of committing a part.
 */

export interface CollectionSource {
  readonly label: string;
  /** Local copy of chroma.sqlite3. */
  readonly file: string;
  readonly collection: Collection;
  readonly target: TargetTable;
}

const md5 = (s: string) => createHash("md5").update(s, "utf8").digest("hex");

export async function migrateCollection(
  pg: PgTarget,
  src: CollectionSource,
  progress: (done: number, total: number) => void,
): Promise<SourceReport> {
  const started = Date.now();
  const db = openChroma(src.file);
  const { total, docs } = readDocuments(db, src.collection);
  const t = src.target;
  const cols = stagingColumns(t);
  const tally = newTally();
  // A document without a timestamp gets the time of this run, as 0.1's DEFAULT NOW() would.
  const now = timestampField(new Date().toISOString());
  try {
    const exists = await tableExists(pg, t);
    const out = await psql(pg, loadStatements(t, exists, copyStatements(t, exists, cols)), {
      input: Readable.from(copyStream({ target: t, docs, total, cols, now, progress }, tally)),
    });
    db.close();
    const [staged, present, inserted] = out.map(Number);
    if (staged !== tally.staged) {
      throw new Error(`Postgres staged ${staged} rows but ${tally.staged} were sent`);
    }
    const verification = await verify(pg, t, TARGET_COLUMNS[t].text, tally.samples);
    return collectionReport(src, tally, started, {
      status: "migrated",
      inserted,
      alreadyPresent: present,
      verification,
    });
  } catch (e) {
    try {
      db.close();
    } catch {
      // already closed
    }
    return collectionReport(src, tally, started, {
      status: "failed",
      error: (e as Error).message,
    });
  }
}

type Outcome =
  | {
      readonly status: "migrated";
      readonly inserted: number;
      readonly alreadyPresent: number;
      readonly verification: Verification;
    }
  | { readonly status: "failed"; readonly error: string };

/** The source's entry in the report, its keys in the order the report file has them. */
function collectionReport(
  src: CollectionSource,
  tally: Tally,
  started: number,
  o: Outcome,
): SourceReport {
  return {
    source: src.label,
    target: src.target,
    status: o.status,
    read: tally.read,
    inserted: o.status === "migrated" ? o.inserted : 0,
    alreadyPresent: o.status === "migrated" ? o.alreadyPresent : 0,
    unusable: tally.unusable,
    unusableIds: tally.unusableIds,
    withoutVector: tally.withoutVector,
    derivedIds: tally.derivedIds,
    seconds: (Date.now() - started) / 1000,
    ...(o.status === "migrated" ? { verification: o.verification } : { error: o.error }),
  };
}

/**
 * The statements around the COPY, by whether the target exists. Both end by printing
 * rows received, rows already there, rows inserted.
 */
function copyStatements(t: TargetTable, exists: boolean, cols: readonly string[]): string[] {
  if (exists) {
    return [
      "SET temp_buffers = '256MB'",
      ...forwardThroughStage(t, cols),
      `COPY migrate_stage FROM STDIN (FORMAT binary)`,
      ...sentinelCheck("migrate_stage"),
      `SELECT count(*) + (${INSERTED}) FROM migrate_stage`,
      `SELECT count(*) FROM migrate_stage`,
      INSERTED,
    ];
  }
  return [
    `COPY ${t} (${cols.join(", ")}) FROM STDIN (FORMAT binary)`,
    ...sentinelCheck(t),
    `SELECT count(*) FROM ${t}`,
    `SELECT 0`,
    `SELECT count(*) FROM ${t}`,
  ];
}

/** Rolls the transaction back unless the stream's last row arrived; then drops that row. */
function sentinelCheck(table: string): string[] {
  return [
    `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM ${table} WHERE id = ${lit(SENTINEL)}) THEN ` +
      `RAISE EXCEPTION 'the copy stream ended early: the transaction is rolled back'; END IF; END $$`,
    `DELETE FROM ${table} WHERE id = ${lit(SENTINEL)}`,
  ];
}

/** The staging table's column types, as the 0.1 tables have them; the rest is text. */
const STAGE_TYPES: Readonly<Record<string, string>> = {
  id: "uuid",
  embedding: `vector(${DIMENSIONS})`,
  metadata: "jsonb",
  created_at: "timestamp",
};

/** How many rows the forwarding trigger inserted (a temporary sequence counts them). */
const INSERTED = `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM migrate_inserted`;

/**
 * Into a table that exists (and keeps its indexes): the stream goes into a temporary
 * table whose trigger inserts each row into the target as it arrives, ON CONFLICT (id)
 * DO NOTHING, and keeps only the rows already there. Postgres maintains the target's
 * indexes while the tool is still reading ChromaDB, where staging everything first
 * and inserting it afterwards did the two one after the other. The sentinel skips the
 * trigger, so it never reaches the target.
 */
function forwardThroughStage(target: TargetTable, cols: readonly string[]): string[] {
  const stageDef = cols.map((c) => `${c} ${STAGE_TYPES[c] ?? "text"}`).join(", ");
  const values = cols.map((c) => `NEW.${c}`).join(", ");
  return [
    `CREATE TEMP TABLE migrate_stage (${stageDef}) ON COMMIT DROP`,
    `CREATE TEMP SEQUENCE migrate_inserted`,
    `CREATE FUNCTION pg_temp.migrate_forward() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
      `INSERT INTO ${target} (${cols.join(", ")}) VALUES (${values}) ON CONFLICT (id) DO NOTHING; ` +
      `IF FOUND THEN PERFORM nextval('pg_temp.migrate_inserted'); RETURN NULL; END IF; ` +
      `RETURN NEW; END $$`,
    `CREATE TRIGGER migrate_forward BEFORE INSERT ON migrate_stage FOR EACH ROW ` +
      `WHEN (NEW.id <> ${lit(SENTINEL)}) EXECUTE FUNCTION pg_temp.migrate_forward()`,
  ];
}

/** The samples compared byte for byte (text, vector), and a search with one's own vector as 0.1 searches. */
async function verify(
  pg: PgTarget,
  table: TargetTable,
  text: string,
  samples: readonly Sample[],
): Promise<Verification> {
  if (samples.length === 0) return { sampled: 0, equal: 0, differing: [] };
  const ids = samples.map((s) => lit(s.id)).join(", ");
  const probe = samples.find((s) => s.vector !== undefined);
  const k = 5;
  // One session for both checks (each docker exec costs a process start); rows are
  // told apart by their first field.
  const rows = await psql(
    pg,
    [
      `SELECT 'row|' || id || '|' || md5(${text}) || '|' || COALESCE(encode(vector_send(embedding), 'hex'), '-') ` +
        `FROM ${table} WHERE id IN (${ids})`,
      ...(probe?.vector
        ? [
            `SELECT 'near|' || id FROM ${table} ORDER BY embedding <=> ` +
              `${lit(vectorLiteral(decodeFloat32(probe.vector)))}::vector LIMIT ${k}`,
          ]
        : []),
    ],
    { transaction: false },
  );
  const got = new Map(
    rows.filter((r) => r.startsWith("row|")).map((r) => [r.split("|")[1], r.slice(4)]),
  );
  const near = rows.filter((r) => r.startsWith("near|")).map((r) => r.slice(5));
  const differing: string[] = [];
  for (const s of samples) {
    const want = `${s.id}|${md5(s.text)}|${s.vector ? vectorField(s.vector, DIMENSIONS).toString("hex") : "-"}`;
    if (got.get(s.id) !== want) differing.push(s.id);
  }
  const similarity: Verification["similarity"] = probe
    ? { id: probe.id, found: near.includes(probe.id), k }
    : undefined;
  return {
    sampled: samples.length,
    equal: samples.length - differing.length,
    differing,
    similarity,
  };
}
