import { ChromaDocument } from "./chroma";
import { copyHeader, copyTrailer, CopyWriter } from "./copy-binary";
import { chromaRow, Mapped, TargetTable } from "./targets";

/*
 * A ChromaDB collection as the input of one binary COPY: a row per usable document,
 * in chunks, counted as they go, with a sample of rows kept for the check afterwards.
 * The stream ends with a sentinel row the transaction looks for: when the tool dies
 * mid-stream, psql sees an early end of input, the sentinel is missing, and
 * collection.ts rolls the transaction back instead of committing a part.
 */

export const SENTINEL = "00000000-0000-0000-0000-000000000000";
const SAMPLES = 25;
const CHUNK = 256 * 1024;
/** Unusable documents named in the report; the rest are only counted. */
const NAMED_UNUSABLE = 20;

/** A row kept to compare with what Postgres holds once the transaction committed. */
export interface Sample {
  readonly id: string;
  readonly text: string;
  readonly vector?: Uint8Array;
}

/** What the stream counted and kept while it sent the documents. */
export interface Tally {
  read: number;
  /** Usable documents whose id the target already holds (StreamArgs.skip): not sent. */
  alreadyPresent: number;
  unusable: number;
  withoutVector: number;
  derivedIds: number;
  /** Rows sent, the sentinel not included. */
  staged: number;
  readonly unusableIds: Array<{ id: string; reason: string }>;
  readonly samples: Sample[];
}

export interface StreamArgs {
  readonly target: TargetTable;
  readonly docs: Iterable<ChromaDocument>;
  readonly total: number;
  /** The staging columns (stagingColumns(target)), in COPY order. */
  readonly cols: readonly string[];
  /** created_at of a document without a timestamp: this run's time, as 0.1's DEFAULT NOW() would. */
  readonly now: Buffer | undefined;
  readonly progress: (done: number, total: number) => void;
  /**
   * Ids the target already holds (as Postgres prints a uuid): such a document is
   * counted and may be sampled, but not sent. @default none
   */
  readonly skip?: ReadonlySet<string>;
}

export function newTally(): Tally {
  return {
    read: 0,
    alreadyPresent: 0,
    unusable: 0,
    withoutVector: 0,
    derivedIds: 0,
    staged: 0,
    unusableIds: [],
    samples: [],
  };
}

/**
 * The COPY input, header to trailer, in chunks of about CHUNK bytes, counting into
 * `tally` as Postgres pulls it; progress every 1000 documents and at the end.
 */
export function* copyStream(a: StreamArgs, tally: Tally): Generator<Buffer> {
  const every = Math.max(1, Math.floor(a.total / SAMPLES));
  const seen = new Set<string>();
  const out = new CopyWriter(CHUNK + CHUNK / 4);
  out.raw(copyHeader());
  for (const d of a.docs) {
    const row = acceptDocument(a, tally, seen, every, d);
    if (row !== undefined) out.row(row);
    if (tally.read % 1000 === 0) a.progress(tally.read, a.total);
    if (out.size >= CHUNK) yield out.take();
  }
  out.row(sentinelRow(a.cols, a.now));
  out.raw(copyTrailer());
  yield out.take();
  a.progress(tally.read, a.total);
}

/** Counts one document; its COPY fields, or undefined when it sends none (named in the tally when unusable). */
function acceptDocument(
  a: StreamArgs,
  tally: Tally,
  seen: Set<string>,
  every: number,
  d: ChromaDocument,
): ReadonlyArray<Buffer | undefined> | undefined {
  tally.read++;
  const m = unlessTaken(chromaRow(a.target, d), d, seen);
  if (!m.ok) {
    tally.unusable++;
    if (tally.unusableIds.length < NAMED_UNUSABLE)
      tally.unusableIds.push({ id: m.id, reason: m.reason });
    return undefined;
  }
  if (!m.hasVector) tally.withoutVector++;
  if (m.derivedId) tally.derivedIds++;
  seen.add(m.id);
  if (tally.read % every === 0 || tally.samples.length === 0) {
    tally.samples.push({ id: m.id, text: d.document ?? "", vector: d.vector });
  }
  if (a.skip?.has(m.id) === true) {
    tally.alreadyPresent++;
    return undefined;
  }
  tally.staged++;
  const last = m.fields.length - 1;
  return m.fields[last] === undefined ? [...m.fields.slice(0, last), a.now] : m.fields;
}

/** A second document with the same (possibly derived) id is unusable: ids are unique per collection. */
function unlessTaken(mapped: Mapped, d: ChromaDocument, seen: ReadonlySet<string>): Mapped {
  if (!mapped.ok || !seen.has(mapped.id)) return mapped;
  return {
    ok: false,
    id: d.id,
    reason: `id ${mapped.id} already taken by another document of the collection`,
  };
}

/** A valid row (NOT NULL columns filled), since it may land in the target itself. */
function sentinelRow(cols: readonly string[], now: Buffer | undefined): Array<Buffer | undefined> {
  const row: Array<Buffer | undefined> = cols.map((col) =>
    col === "embedding" || col === "metadata" ? undefined : Buffer.alloc(0),
  );
  row[0] = Buffer.from(SENTINEL.replace(/-/g, ""), "hex");
  row[cols.length - 1] = now;
  return row;
}
