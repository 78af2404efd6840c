import { randomUUID } from "crypto";
import { DatabaseSync } from "node:sqlite";

/*
 * A chroma.sqlite3 with the layout PANOPTICON.md documents, written by the tests
 * themselves: collections, one METADATA segment per collection, embeddings +
 * embedding_metadata (the document under `chroma:document`), and embeddings_queue
 * rows whose `vector` is little-endian float32 and whose `metadata` JSON carries the
 * fields plus `chroma:document`. A document with `inQueue: false` has its vector
 * only in the segment files (which are not written): no queue row keeps it.
 */

export interface FixtureDoc {
  readonly id: string;
  readonly text: string;
  readonly metadata: Record<string, string | number | boolean>;
  readonly vector: Float32Array;
  /** @default true */
  readonly inQueue?: boolean;
  /** Only in the queue, not yet in the metadata segment. @default false */
  readonly queueOnly?: boolean;
}

export function floatBlob(v: Float32Array): Buffer {
  const b = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => b.writeFloatLE(x, i * 4));
  return b;
}

export function randomVector(dim = 384): Float32Array {
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) v[i] = Math.random() * 2 - 1;
  return v;
}

export function writeChroma(
  file: string,
  collections: ReadonlyArray<{ name: string; docs: readonly FixtureDoc[] }>,
): Record<string, string> {
  const db = new DatabaseSync(file);
  db.exec(`
    CREATE TABLE collections (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, dimension INTEGER);
    CREATE TABLE segments (id TEXT PRIMARY KEY, type TEXT NOT NULL, scope TEXT NOT NULL, collection TEXT);
    CREATE TABLE embeddings (id INTEGER PRIMARY KEY, segment_id TEXT NOT NULL, embedding_id TEXT NOT NULL,
      seq_id BLOB NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, UNIQUE (segment_id, embedding_id));
    CREATE TABLE embedding_metadata (id INTEGER REFERENCES embeddings(id), key TEXT NOT NULL,
      string_value TEXT, int_value INTEGER, float_value REAL, bool_value INTEGER, PRIMARY KEY (id, key));
    CREATE TABLE embeddings_queue (seq_id INTEGER PRIMARY KEY, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      operation INTEGER NOT NULL, topic TEXT NOT NULL, id TEXT NOT NULL, vector BLOB, encoding TEXT, metadata TEXT);
  `);
  const ids: Record<string, string> = {};
  const addColl = db.prepare("INSERT INTO collections (id, name, dimension) VALUES (?, ?, 384)");
  const addSeg = db.prepare(
    "INSERT INTO segments (id, type, scope, collection) VALUES (?, ?, ?, ?)",
  );
  const addQ = db.prepare(
    "INSERT INTO embeddings_queue (operation, topic, id, vector, encoding, metadata) VALUES (0, ?, ?, ?, 'FLOAT32', ?)",
  );
  const addE = db.prepare(
    "INSERT INTO embeddings (segment_id, embedding_id, seq_id) VALUES (?, ?, ?) RETURNING id",
  );
  const addM = db.prepare(
    "INSERT INTO embedding_metadata (id, key, string_value, int_value, float_value, bool_value) VALUES (?, ?, ?, ?, ?, ?)",
  );
  db.exec("BEGIN");
  for (const c of collections) {
    const cid = randomUUID();
    ids[c.name] = cid;
    addColl.run(cid, c.name);
    const metaSeg = randomUUID();
    addSeg.run(metaSeg, "urn:chroma:segment/metadata/sqlite", "METADATA", cid);
    addSeg.run(randomUUID(), "urn:chroma:segment/vector/hnsw-local-persisted", "VECTOR", cid);
    let seq = 0;
    for (const d of c.docs) {
      seq++;
      const all = { ...d.metadata, "chroma:document": d.text };
      if (d.inQueue !== false) {
        addQ.run(
          `persistent://default/default/${cid}`,
          d.id,
          floatBlob(d.vector),
          JSON.stringify(all),
        );
      }
      if (d.queueOnly) continue;
      const { id } = addE.get(metaSeg, d.id, Buffer.from([seq])) as { id: number };
      for (const [k, v] of Object.entries(all)) {
        if (typeof v === "string") addM.run(id, k, v, null, null, null);
        else if (typeof v === "boolean") addM.run(id, k, null, null, null, v ? 1 : 0);
        else if (Number.isInteger(v)) addM.run(id, k, null, v, null, null);
        else addM.run(id, k, null, null, v, null);
      }
    }
  }
  db.exec("COMMIT");
  db.close();
  return ids;
}
