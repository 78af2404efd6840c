import type { DatabaseSync } from "node:sqlite";

/*
 * A ChromaDB store read as the SQLite file it is (chroma.sqlite3), with Node's own
 * node:sqlite: no Python and no Chroma server. Layout (PANOPTICON.md):
 *  - collections(id, name, dimension, ...)
 *  - segments(id, type, scope, collection, ...): scope METADATA holds the documents
 *  - embeddings(id, segment_id, embedding_id, seq_id): embedding_id is the item's id
 *  - embedding_metadata(id, key, string_value, int_value, float_value[, bool_value]):
 *    the document's text under key `chroma:document`
 *  - embeddings_queue(seq_id, operation, topic, id, vector, encoding, metadata): the
 *    write-ahead log; `topic` ends with the collection id, `vector` is `dimension`
 *    little-endian float32 (encoding FLOAT32), `metadata` JSON with
 *    `chroma:document`. Operations: 0 ADD, 1 UPDATE, 2 UPSERT, 3 DELETE.
 * A vector is only in the queue until ChromaDB has flushed it to the segment's HNSW
 * files; those files are not read here, so such a document comes without a vector.
 * Always opened on a copy: the original file is never opened by SQLite.
 */

export const DOCUMENT_KEY = "chroma:document";

export interface Collection {
  readonly id: string;
  readonly name: string;
  readonly dimension?: number;
}

export interface ChromaDocument {
  readonly id: string;
  /** undefined when the store holds no text for it. */
  readonly document?: string;
  /** Every metadata key but the document. */
  readonly metadata: Record<string, string | number | boolean | null>;
  /** FLOAT32 little-endian, when chroma.sqlite3 still has it. */
  readonly vector?: Uint8Array;
  readonly encoding?: string;
}

/**
 * Opens a copy of chroma.sqlite3. node:sqlite is loaded here rather than imported at
 * the top, so a Node.js without it (before 22.13 it needs a flag) gets this message
 * from doctor and migrate-data instead of a crash at start.
 */
export function openChroma(file: string): DatabaseSync {
  let sqlite: typeof import("node:sqlite");
  try {
    sqlite = require("node:sqlite") as typeof import("node:sqlite");
  } catch {
    throw new Error(
      `reading ChromaDB needs node:sqlite, which Node.js ${process.version} does not offer without a flag: use Node.js 22.13 or later`,
    );
  }
  const db = new sqlite.DatabaseSync(file, { readOnly: true });
  // Pages straight from the (copied, read-only) file's mapping instead of a read() into
  // SQLite's small page cache each: a quarter less time reading 100,000 documents.
  db.exec(`PRAGMA mmap_size = ${MMAP_BYTES}`);
  return db;
}

/** SQLite maps up to this much of the file (the rest is read as usual). */
const MMAP_BYTES = 1024 * 1024 * 1024;

function columns(db: DatabaseSync, table: string): Set<string> {
  const rows = db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
  return new Set(rows.map((r) => r.name));
}

export function listCollections(db: DatabaseSync): Collection[] {
  const hasDim = columns(db, "collections").has("dimension");
  const rows = db
    .prepare(`SELECT id, name${hasDim ? ", dimension" : ""} FROM collections ORDER BY name`)
    .all() as Array<{ id: string; name: string; dimension?: number | null }>;
  return rows.map((r) => ({
    id: String(r.id),
    name: String(r.name),
    dimension: r.dimension === null || r.dimension === undefined ? undefined : Number(r.dimension),
  }));
}

/**
 * The live documents of a collection: those the metadata segment holds, plus those
 * whose newest queue entry adds them and that the segment has not taken in yet.
 * The newest ADD/UPDATE/UPSERT entry with a vector gives the vector. The CTEs carry
 * seq_ids only and the blobs are fetched by seq_id (the queue's rowid) at the end:
 * materialising the blobs made this five times slower.
 */
const DOCS_CTE = `
WITH q AS MATERIALIZED (
  SELECT id, operation, seq_id, vector IS NOT NULL AS hasvec FROM embeddings_queue
  WHERE substr(topic, -length(:cid)) = :cid
),
vseq AS MATERIALIZED (
  SELECT id, max(seq_id) AS seq FROM q WHERE hasvec AND operation IN (0, 1, 2) GROUP BY id
),
newest AS MATERIALIZED (SELECT id, max(seq_id) AS seq FROM q GROUP BY id),
seg AS MATERIALIZED (
  SELECT e.id AS rid, e.embedding_id AS id FROM embeddings e
  JOIN segments s ON s.id = e.segment_id
  WHERE s.collection = :cid AND s.scope = 'METADATA'
),
docs AS MATERIALIZED (
  SELECT id, rid, NULL AS qseq FROM seg
  UNION ALL
  SELECT n.id, NULL, n.seq FROM newest n JOIN embeddings_queue x ON x.seq_id = n.seq
  WHERE x.operation IN (0, 2) AND n.id NOT IN (SELECT id FROM seg)
)`;

// `total` is the same for every row: SQLite computes an uncorrelated subquery once,
// over the docs already materialised, so the count costs no second pass.
const DOCS_SQL = (boolCol: boolean) => `${DOCS_CTE}
SELECT d.id, (SELECT count(*) FROM docs) AS total,
  CASE WHEN d.rid IS NOT NULL THEN (SELECT json_group_object(m.key, CASE
      WHEN m.string_value IS NOT NULL THEN m.string_value
      WHEN m.int_value IS NOT NULL THEN m.int_value
      WHEN m.float_value IS NOT NULL THEN m.float_value
      ${boolCol ? "WHEN m.bool_value IS NOT NULL THEN json(CASE WHEN m.bool_value THEN 'true' ELSE 'false' END)" : ""}
      ELSE NULL END) FROM embedding_metadata m WHERE m.id = d.rid)
    ELSE (SELECT metadata FROM embeddings_queue WHERE seq_id = d.qseq) END AS metadata,
  x.vector, x.encoding
FROM docs d LEFT JOIN vseq v ON v.id = d.id LEFT JOIN embeddings_queue x ON x.seq_id = v.seq`;

function query(db: DatabaseSync, sql: string) {
  return db.prepare(sql);
}

export function countDocuments(db: DatabaseSync, c: Collection): number {
  const row = query(db, `${DOCS_CTE} SELECT count(*) AS n FROM docs`).get({ cid: c.id }) as {
    n: number;
  };
  return Number(row.n);
}

/** Splits stored metadata into the document text and the other keys. */
export function splitMetadata(json: string | null | undefined): {
  document?: string;
  metadata: ChromaDocument["metadata"];
} {
  const parsed: unknown = json ? JSON.parse(json) : {};
  const all = (parsed && typeof parsed === "object" ? parsed : {}) as Record<
    string,
    string | number | boolean | null
  >;
  const { [DOCUMENT_KEY]: doc, ...metadata } = all;
  return { document: typeof doc === "string" ? doc : undefined, metadata };
}

/**
 * The live documents of a collection and how many there are, in one pass over the
 * store: the first row is read at once, since it carries the total.
 */
export function readDocuments(
  db: DatabaseSync,
  c: Collection,
): { readonly total: number; readonly docs: Iterable<ChromaDocument> } {
  const boolCol = columns(db, "embedding_metadata").has("bool_value");
  const it = (query(db, DOCS_SQL(boolCol)).iterate({ cid: c.id }) as Iterable<DocRow>)[
    Symbol.iterator
  ]();
  const first = it.next();
  if (first.done === true) return { total: 0, docs: [] };
  function* docs(): Generator<ChromaDocument> {
    yield documentOf(first.value as DocRow);
    for (let r = it.next(); r.done !== true; r = it.next()) yield documentOf(r.value);
  }
  return { total: Number(first.value.total), docs: docs() };
}

export function documents(db: DatabaseSync, c: Collection): Iterable<ChromaDocument> {
  return readDocuments(db, c).docs;
}

interface DocRow {
  id: string;
  total: number;
  metadata: string | null;
  vector: Uint8Array | null;
  encoding: string | null;
}

function documentOf(r: DocRow): ChromaDocument {
  const { document, metadata } = splitMetadata(r.metadata);
  return {
    id: String(r.id),
    document,
    metadata,
    vector: r.vector ?? undefined,
    encoding: r.encoding ?? undefined,
  };
}
