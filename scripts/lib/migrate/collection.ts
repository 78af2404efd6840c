import { createHash } from "crypto";
import { Readable } from "stream";
import { ChromaDocument, Collection, openChroma, readDocuments } from "./chroma";
import {
  timestampField,
  copyHeader,
  copyRow,
  copyTrailer,
  decodeFloat32,
  vectorField,
  vectorLiteral,
} from "./copy-binary";
import { lit, psql, PgTarget, tableExists } from "./pg";
import { SourceReport, Verification } from "./report";
import {
  chromaRow,
  DIMENSIONS,
  stagingColumns,
  TargetTable,
  TARGET_COLUMNS,
  loadStatements,
} from "./targets";

/*
 * One ChromaDB collection into its 0.1 table, in one transaction: the documents
 * stream as binary COPY into a temporary table whose trigger inserts each one into
 * the target, ON CONFLICT (id) DO NOTHING, as it arrives. Into a table this
 * transaction creates, nothing can conflict (ids are unique per collection, checked
 * here), so the rows go straight into it.
 * The stream ends with a sentinel row; if the tool dies mid-stream psql sees an early
 * end of input, the sentinel is missing, and the transaction is rolled back instead
 * of committing a part.
 */

const SENTINEL = "00000000-0000-0000-0000-000000000000";
const SAMPLES = 25;
const CHUNK = 256 * 1024;

export interface CollectionSource {
  readonly label: string;
  /** Local copy of chroma.sqlite3. */
  readonly file: string;
  readonly collection: Collection;
  readonly target: TargetTable;
}

interface Sample {
  readonly id: string;
  readonly text: string;
  readonly vector?: Uint8Array;
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
  const every = Math.max(1, Math.floor(total / SAMPLES));
  const counts = { read: 0, unusable: 0, withoutVector: 0, derivedIds: 0, staged: 0 };
  const seen = new Set<string>();
  // A document without a timestamp gets the time of this run, as 0.1's DEFAULT NOW() would.
  const now = timestampField(new Date().toISOString());
  const unusableIds: Array<{ id: string; reason: string }> = [];
  const samples: Sample[] = [];
  const cols = stagingColumns(src.target);
  const nCols = cols.length;

  function* chunks(): Generator<Buffer> {
    let pending: Buffer[] = [copyHeader()];
    let size = 0;
    for (const d of docs) {
      counts.read++;
      const mapped = chromaRow(src.target, d);
      const m =
        mapped.ok && seen.has(mapped.id)
          ? {
              ok: false as const,
              id: d.id,
              reason: `id ${mapped.id} already taken by another document of the collection`,
            }
          : mapped;
      if (!m.ok) {
        counts.unusable++;
        if (unusableIds.length < 20) unusableIds.push({ id: m.id, reason: m.reason });
      } else {
        if (!m.hasVector) counts.withoutVector++;
        if (m.derivedId) counts.derivedIds++;
        seen.add(m.id);
        if (counts.read % every === 0 || samples.length === 0) samples.push(sampleOf(m.id, d));
        const row = copyRow(
          m.fields[m.fields.length - 1] === undefined ? [...m.fields.slice(0, -1), now] : m.fields,
        );
        pending.push(row);
        size += row.length;
        counts.staged++;
      }
      if (counts.read % 1000 === 0) progress(counts.read, total);
      if (size >= CHUNK) {
        yield Buffer.concat(pending);
        pending = [];
        size = 0;
      }
    }
    // A valid row (NOT NULL columns filled), since it may land in the target itself.
    const sentinel: Array<Buffer | undefined> = cols.map((col) =>
      col === "embedding" || col === "metadata" ? undefined : Buffer.alloc(0),
    );
    sentinel[0] = Buffer.from(SENTINEL.replace(/-/g, ""), "hex");
    sentinel[nCols - 1] = now;
    pending.push(copyRow(sentinel), copyTrailer());
    yield Buffer.concat(pending);
    progress(counts.read, total);
  }

  const t = src.target;
  const text = TARGET_COLUMNS[t].text;
  const stageDef = cols
    .map((c) =>
      c === "id"
        ? "id uuid"
        : c === "embedding"
          ? `embedding vector(${DIMENSIONS})`
          : c === "metadata"
            ? "metadata jsonb"
            : c === "created_at"
              ? "created_at timestamp"
              : `${c} text`,
    )
    .join(", ");
  const targetCols = cols.join(", ");

  try {
    const exists = await tableExists(pg, t);
    const sentinelCheck = (table: string) => [
      `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM ${table} WHERE id = ${lit(SENTINEL)}) THEN ` +
        `RAISE EXCEPTION 'the copy stream ended early: the transaction is rolled back'; END IF; END $$`,
      `DELETE FROM ${table} WHERE id = ${lit(SENTINEL)}`,
    ];
    // Both print: rows received, rows already there, rows inserted.
    const load = exists
      ? [
          "SET temp_buffers = '256MB'",
          ...forwardThroughStage(t, stageDef, cols),
          `COPY migrate_stage FROM STDIN (FORMAT binary)`,
          ...sentinelCheck("migrate_stage"),
          `SELECT count(*) + (${INSERTED}) FROM migrate_stage`,
          `SELECT count(*) FROM migrate_stage`,
          INSERTED,
        ]
      : [
          `COPY ${t} (${targetCols}) FROM STDIN (FORMAT binary)`,
          ...sentinelCheck(t),
          `SELECT count(*) FROM ${t}`,
          `SELECT 0`,
          `SELECT count(*) FROM ${t}`,
        ];
    const out = await psql(pg, loadStatements(t, exists, load), {
      input: Readable.from(chunks()),
    });
    db.close();
    const [staged, present, inserted] = out.map(Number);
    if (staged !== counts.staged) {
      throw new Error(`Postgres staged ${staged} rows but ${counts.staged} were sent`);
    }
    const verification = await verify(pg, t, text, samples);
    return {
      source: src.label,
      target: t,
      status: "migrated",
      read: counts.read,
      inserted,
      alreadyPresent: present,
      unusable: counts.unusable,
      unusableIds,
      withoutVector: counts.withoutVector,
      derivedIds: counts.derivedIds,
      seconds: (Date.now() - started) / 1000,
      verification,
    };
  } catch (e) {
    try {
      db.close();
    } catch {
      // already closed
    }
    return {
      source: src.label,
      target: t,
      status: "failed",
      read: counts.read,
      inserted: 0,
      alreadyPresent: 0,
      unusable: counts.unusable,
      unusableIds,
      withoutVector: counts.withoutVector,
      derivedIds: counts.derivedIds,
      seconds: (Date.now() - started) / 1000,
      error: (e as Error).message,
    };
  }
}

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
function forwardThroughStage(
  target: TargetTable,
  stageDef: string,
  cols: readonly string[],
): string[] {
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

function sampleOf(id: string, d: ChromaDocument): Sample {
  return { id, text: d.document ?? "", vector: d.vector };
}

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
