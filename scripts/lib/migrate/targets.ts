import { ChromaDocument } from "./chroma";
import {
  derivedUuid,
  isUuid,
  jsonbField,
  textField,
  timestampField,
  uuidField,
  vectorField,
} from "./copy-binary";

/*
 * The 0.1 tables and how each compose-era store maps onto them.
 * DDL as release 0.1 runs it at start (CREATE ... IF NOT EXISTS, so an app that
 * starts later finds the tables as its own):
 *  - items tables: item_storage/pg_item_storage.py at 99f909c (_create_table);
 *  - llm_outputs: judge_service/pg_judge_storage.py at e342b64 (_create_tables).
 * Field mappings (PANOPTICON.md "Where each store lives"; upstream's own
 * migrate_to_postgres.py scripts at e342b64): queries.query_text/theme and
 * evaluation_metrics.prompt/metric_type become item_text/item_type; a ChromaDB
 * document's text is the item text, its `theme` / `metric_type` metadata the item
 * type, and the judge's `model_id`, `theme`, `query` metadata fill llm_outputs.
 */

export const DIMENSIONS = 384;

export type TargetTable = "items_queries" | "items_metrics" | "llm_outputs";

export function targetDdl(table: TargetTable): string[] {
  const ext = "CREATE EXTENSION IF NOT EXISTS vector";
  if (table === "llm_outputs") {
    return [
      ext,
      `CREATE TABLE IF NOT EXISTS llm_outputs (
    id UUID PRIMARY KEY,
    output_text TEXT NOT NULL,
    embedding VECTOR(${DIMENSIONS}),
    model_id TEXT NOT NULL,
    theme TEXT NOT NULL,
    query TEXT NOT NULL,
    metadata JSONB,
    created_at TIMESTAMP NOT NULL DEFAULT NOW()
)`,
      "CREATE INDEX IF NOT EXISTS llm_outputs_embedding_idx ON llm_outputs USING ivfflat (embedding vector_cosine_ops)",
    ];
  }
  return [
    ext,
    `CREATE TABLE IF NOT EXISTS ${table} (
    id UUID PRIMARY KEY,
    item_text TEXT NOT NULL,
    embedding VECTOR(${DIMENSIONS}),
    item_type TEXT NOT NULL,
    metadata JSONB,
    created_at TIMESTAMP NOT NULL DEFAULT NOW()
)`,
    `CREATE INDEX IF NOT EXISTS ${table}_embedding_idx ON ${table} USING ivfflat (embedding vector_cosine_ops)`,
    `CREATE INDEX IF NOT EXISTS ${table}_type_idx ON ${table} (item_type)`,
  ];
}

/** The target's text column and its other required text columns, in COPY order. */
/**
 * The statements of one load: the table as 0.1 creates it, then the rows. When this
 * load creates the table, its indexes are built after the rows are in (same
 * transaction, same definitions): an ivfflat index built over the data has lists
 * that fit it, where one built on the empty table, as 0.1 does at start, gives low
 * recall, and building once is faster than maintaining it row by row. A table that
 * already exists keeps its indexes and the rows go in through them.
 */
export function loadStatements(
  table: TargetTable,
  exists: boolean,
  load: readonly string[],
): string[] {
  const [ext, create, ...indexes] = targetDdl(table);
  return exists ? [ext, create, ...indexes, ...load] : [ext, create, ...load, ...indexes];
}

export const TARGET_COLUMNS: Record<TargetTable, { text: string; required: readonly string[] }> = {
  items_queries: { text: "item_text", required: ["item_type"] },
  items_metrics: { text: "item_text", required: ["item_type"] },
  llm_outputs: { text: "output_text", required: ["model_id", "theme", "query"] },
};

/** The metadata key each required column is read from in a ChromaDB document. */
const FROM_METADATA: Record<TargetTable, Record<string, string>> = {
  items_queries: { item_type: "theme" },
  items_metrics: { item_type: "metric_type" },
  llm_outputs: { model_id: "model_id", theme: "theme", query: "query" },
};

/** Staging-table columns, same order as the COPY fields of chromaRow(). */
export function stagingColumns(table: TargetTable): string[] {
  const t = TARGET_COLUMNS[table];
  return ["id", t.text, "embedding", ...t.required, "metadata", "created_at"];
}

export type Mapped =
  | {
      readonly ok: true;
      readonly id: string;
      readonly fields: ReadonlyArray<Buffer | undefined>;
      readonly hasVector: boolean;
      /** The id was not a UUID: the target id is derived from it (kept in metadata.chroma_id). */
      readonly derivedId: boolean;
    }
  | { readonly ok: false; readonly id: string; readonly reason: string };

/** One ChromaDB document as a staging row; or why it cannot be one. */
export function chromaRow(table: TargetTable, d: ChromaDocument): Mapped {
  if (d.document === undefined) return { ok: false, id: d.id, reason: "no document text" };
  const required: string[] = [];
  for (const [column, key] of Object.entries(FROM_METADATA[table])) {
    const v = d.metadata[key];
    if (v === undefined || v === null || v === "") {
      return {
        ok: false,
        id: d.id,
        reason: `no "${key}" in its metadata (column ${column} is NOT NULL)`,
      };
    }
    required.push(String(v));
  }
  if (
    d.vector !== undefined &&
    d.encoding !== undefined &&
    d.encoding.toUpperCase() !== "FLOAT32"
  ) {
    return { ok: false, id: d.id, reason: `vector encoding ${d.encoding}: expected FLOAT32` };
  }
  if (d.vector !== undefined && d.vector.length !== DIMENSIONS * 4) {
    return {
      ok: false,
      id: d.id,
      reason: `vector of ${d.vector.length / 4} dimensions: expected ${DIMENSIONS}`,
    };
  }
  const derived = !isUuid(d.id);
  const id = derived ? derivedUuid(d.id) : d.id.toLowerCase();
  const metadata = derived ? { ...d.metadata, chroma_id: d.id } : d.metadata;
  const ts =
    typeof d.metadata.timestamp === "string" ? timestampField(d.metadata.timestamp) : undefined;
  return {
    ok: true,
    id,
    derivedId: derived,
    hasVector: d.vector !== undefined,
    fields: [
      uuidField(id),
      textField(d.document),
      d.vector === undefined ? undefined : vectorField(d.vector, DIMENSIONS),
      ...required.map(textField),
      jsonbField(JSON.stringify(metadata)),
      ts,
    ],
  };
}

/** The compose-era tables: their text and type columns (PANOPTICON.md). */
export const SOURCE_TABLES = {
  queries: { target: "items_queries", text: "query_text", type: "theme" },
  evaluation_metrics: { target: "items_metrics", text: "prompt", type: "metric_type" },
} as const satisfies Record<string, { target: TargetTable; text: string; type: string }>;

export type SourceTable = keyof typeof SOURCE_TABLES;
