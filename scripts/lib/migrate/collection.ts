import { createHash } from "crypto";
import { Readable } from "stream";
import { Collection } from "./chroma";
import { newTally, Sample, SENTINEL, Tally } from "./collection-stream";
import { readerChunks } from "./collection-thread";
import { decodeFloat32, timestampField, vectorField, vectorLiteral } from "./copy-binary";
import { lit, psql, PgTarget, tableExists } from "./pg";
import { SourceReport, Verification } from "./report";
import { DIMENSIONS, loadStatements, stagingColumns, TargetTable, TARGET_COLUMNS } from "./targets";

/*
 * One ChromaDB collection into its 0.1 table, in one transaction: the documents
 * stream as binary COPY (collection-stream.ts, built on a reader thread:
 * collection-thread.ts) straight into the target.
 *  - Into a table this transaction creates, nothing can conflict (ids are unique per
 *    collection, checked by the stream).
 *  - Into a table that exists, the transaction first locks it against other writers
 *    (readers go on) and prints the ids it holds; the stream then leaves those
 *    documents out and counts them as already present. So a rerun inserts nothing
 *    and no row is ever written twice, without a trigger or a staging table.
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
  const t = src.target;
  const tally = newTally();
  const failure: { reader?: Error } = {};
  try {
    const exists = await tableExists(pg, t);
    const present = new PresentIds();
    const input = Readable.from(
      guarded(streamAfter(exists, src, present, progress, tally), failure),
    );
    const out = await psql(pg, loadStatements(t, exists, copyStatements(t, exists)), {
      input,
      onLine: exists ? (line) => present.take(line) : undefined,
      onEnd: () => present.end(),
    });
    const [after] = out.filter((l) => !present.owns(l)).map(Number);
    const inserted = after - present.ids.size;
    if (inserted !== tally.staged) {
      throw new Error(`Postgres inserted ${inserted} rows but ${tally.staged} were sent`);
    }
    const verification = await verify(pg, t, TARGET_COLUMNS[t].text, tally.samples);
    return collectionReport(src, tally, started, {
      status: "migrated",
      inserted,
      alreadyPresent: tally.alreadyPresent,
      verification,
    });
  } catch (e) {
    // The reader's own error says more than psql's "the copy stream ended early".
    const error = (failure.reader ?? (e as Error)).message;
    return collectionReport(src, tally, started, { status: "failed", error });
  }
}

/** The COPY input, once the ids the target holds are known. */
async function* streamAfter(
  exists: boolean,
  src: CollectionSource,
  present: PresentIds,
  progress: (done: number, total: number) => void,
  tally: Tally,
): AsyncGenerator<Buffer> {
  if (exists) {
    await present.ready;
    // psql stopped before it printed the whole list (it failed): nothing to send.
    if (!present.complete) return;
  }
  const args = {
    file: src.file,
    collection: src.collection,
    target: src.target,
    cols: stagingColumns(src.target),
    // A document without a timestamp gets the time of this run, as 0.1's DEFAULT NOW() would.
    now: timestampField(new Date().toISOString()),
    skip: present.ids,
    progress,
  };
  yield* readerChunks(args, tally);
}

/** Keeps what the stream throws, to report it rather than psql's view of the cut. */
async function* guarded<T>(g: AsyncGenerator<T>, failure: { reader?: Error }): AsyncGenerator<T> {
  try {
    yield* g;
  } catch (e) {
    failure.reader = e as Error;
    throw e;
  }
}

const PRESENT = "present|";
const PRESENT_END = "present-end";

/** The ids psql prints before the COPY (copyStatements), and when the list is complete. */
class PresentIds {
  readonly ids = new Set<string>();
  /** Settles when the list is complete or psql's output ended, whichever comes first. */
  readonly ready: Promise<void>;
  complete = false;
  private done: () => void = () => {};

  constructor() {
    this.ready = new Promise((resolve) => (this.done = resolve));
  }

  take(line: string): void {
    if (line.startsWith(PRESENT)) this.ids.add(line.slice(PRESENT.length));
    else if (line === PRESENT_END) {
      this.complete = true;
      this.done();
    }
  }

  end(): void {
    this.done();
  }

  owns(line: string): boolean {
    return line.startsWith(PRESENT) || line === PRESENT_END;
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
 * the target's row count; into an existing table, the rows it held are printed first
 * (locked against other writers until the commit, so the count moves only by the COPY).
 */
function copyStatements(t: TargetTable, exists: boolean): string[] {
  const cols = stagingColumns(t);
  return [
    ...(exists
      ? [
          `LOCK TABLE ${t} IN SHARE ROW EXCLUSIVE MODE`,
          `SELECT ${lit(PRESENT)} || id FROM ${t}`,
          `SELECT ${lit(PRESENT_END)}`,
        ]
      : []),
    `COPY ${t} (${cols.join(", ")}) FROM STDIN (FORMAT binary)`,
    ...sentinelCheck(t),
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
