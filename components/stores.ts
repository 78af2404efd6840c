import { LABELS } from "./contract";

/*
 * Which stores each Panopticon service reads, derived from the service's own
 * environment: the facts below are read from upstream's code (rbownes/Argus), and
 * nothing here imports Pulumi, so the guard, the preview refusal, doctor and the
 * migration all share one answer.
 *
 * Compose era (commit e342b64):
 *  - query_storage/storage_factory.py: QUERY_STORAGE_TYPE (default "chroma");
 *    "postgres" reads the table `queries` (pg_query_storage.py), anything else the
 *    ChromaDB collection `queries` (query_storage.py) in CHROMA_PERSIST_DIRECTORY
 *    (default /app/query_storage_data).
 *  - evaluation_storage/storage_factory.py: EVALUATION_STORAGE_TYPE (default
 *    "chroma"); "postgres" reads the table `evaluation_metrics`, but only when
 *    DATABASE_URL is set (without it the factory falls back to ChromaDB); otherwise
 *    the collection `evaluation_metrics` in EVALUATION_PERSIST_DIRECTORY (default
 *    /app/evaluation_storage_data).
 *  - judge_service/storage_factory.py: JUDGE_STORAGE_TYPE (default "chroma");
 *    "postgres" reads the table `llm_outputs` (pg_judge_storage.py), otherwise the
 *    collection `llm_outputs` (judge_storage.py) in JUDGE_PERSIST_DIRECTORY (default
 *    /app/judge_service_data).
 * Release 0.1 (commits 99f909c..e9165f3):
 *  - item_storage: the table named by ITEM_STORAGE_TABLE (pg_item_storage.py).
 *  - judge_service/storage_factory.py: always PgJudgeStorage, the table `llm_outputs`.
 *    Its compose file sets neither JUDGE_STORAGE_TYPE nor JUDGE_PERSIST_DIRECTORY, which
 *    is how a 0.1 judge-service is told from a compose-era one that relies on defaults.
 */

/** A place data lives: a Postgres table, or a ChromaDB collection in a data set. */
export type Store =
  | { readonly kind: "table"; readonly table: string }
  | {
      readonly kind: "collection";
      readonly collection: string;
      /** Directory the service opens as its ChromaDB persist directory. */
      readonly persistDir: string;
      /** The data set mounted exactly there; undefined when none is (the data is then unread). */
      readonly dataSet?: string;
    };

/** The part of a resolved service (components/config/services.ts) this module needs. */
export interface StoreService {
  readonly name: string;
  /** Plain environment, as [key, value] pairs. */
  readonly env: ReadonlyArray<readonly [string, string]>;
  readonly data?: { readonly set: string; readonly path: string };
  /** Receives DATABASE_URL from the program (ResolvedService.database). @default true */
  readonly database?: boolean;
}

export interface StoreRead {
  readonly service: string;
  readonly store: Store;
  /** The environment facts the answer rests on, for messages. */
  readonly because: string;
}

/** Compose-era stores and the 0.1 table that replaces each (PANOPTICON.md, "Where each store lives"). */
export const MIGRATIONS = [
  { from: { kind: "table", name: "queries" }, to: "items_queries", textColumn: "query_text" },
  { from: { kind: "collection", name: "queries" }, to: "items_queries" },
  {
    from: { kind: "table", name: "evaluation_metrics" },
    to: "items_metrics",
    textColumn: "prompt",
  },
  { from: { kind: "collection", name: "evaluation_metrics" }, to: "items_metrics" },
  { from: { kind: "collection", name: "llm_outputs" }, to: "llm_outputs" },
] as const;

/** The 0.1 table a compose-era store moves to; undefined for a store 0.1 reads as it is. */
export function migrationTarget(store: Store): string | undefined {
  const name = store.kind === "table" ? store.table : store.collection;
  return MIGRATIONS.find((m) => m.from.kind === store.kind && m.from.name === name)?.to;
}

const envOf = (s: StoreService, key: string) => s.env.find(([k]) => k === key)?.[1];

function collection(s: StoreService, name: string, persistEnv: string, fallback: string): Store {
  const persistDir = envOf(s, persistEnv) ?? fallback;
  return {
    kind: "collection",
    collection: name,
    persistDir,
    // ChromaDB opens chroma.sqlite3 at the root of its directory: only a mount exactly there counts.
    dataSet: s.data?.path === persistDir ? s.data.set : undefined,
  };
}

/** What one service reads; empty for services without a store of this kind. */
export function storesOf(s: StoreService): StoreRead[] {
  const read = (store: Store, because: string): StoreRead[] => [
    { service: s.name, store, because },
  ];
  const itemTable = envOf(s, "ITEM_STORAGE_TABLE");
  if (itemTable !== undefined) {
    return read({ kind: "table", table: itemTable }, `ITEM_STORAGE_TABLE=${itemTable}`);
  }
  const typeOf = (key: string) => (envOf(s, key) ?? "chroma").toLowerCase();
  const setOr = (key: string) => `${key}=${envOf(s, key) ?? "(unset: chroma)"}`;
  if (s.name === "query-storage" || envOf(s, "QUERY_STORAGE_TYPE") !== undefined) {
    return typeOf("QUERY_STORAGE_TYPE") === "postgres"
      ? read({ kind: "table", table: "queries" }, "QUERY_STORAGE_TYPE=postgres")
      : read(
          collection(s, "queries", "CHROMA_PERSIST_DIRECTORY", "/app/query_storage_data"),
          setOr("QUERY_STORAGE_TYPE"),
        );
  }
  if (s.name === "evaluation-storage" || envOf(s, "EVALUATION_STORAGE_TYPE") !== undefined) {
    const hasDb = s.database !== false || envOf(s, "DATABASE_URL") !== undefined;
    if (typeOf("EVALUATION_STORAGE_TYPE") === "postgres" && hasDb) {
      return read(
        { kind: "table", table: "evaluation_metrics" },
        "EVALUATION_STORAGE_TYPE=postgres",
      );
    }
    return read(
      collection(
        s,
        "evaluation_metrics",
        "EVALUATION_PERSIST_DIRECTORY",
        "/app/evaluation_storage_data",
      ),
      hasDb
        ? setOr("EVALUATION_STORAGE_TYPE")
        : "EVALUATION_STORAGE_TYPE=postgres without DATABASE_URL",
    );
  }
  if (s.name === "judge-service" || envOf(s, "JUDGE_STORAGE_TYPE") !== undefined) {
    const type = envOf(s, "JUDGE_STORAGE_TYPE");
    if (type === undefined && envOf(s, "JUDGE_PERSIST_DIRECTORY") === undefined) {
      return read(
        { kind: "table", table: "llm_outputs" },
        "no JUDGE_STORAGE_TYPE and no JUDGE_PERSIST_DIRECTORY (release 0.1)",
      );
    }
    return typeOf("JUDGE_STORAGE_TYPE") === "postgres"
      ? read({ kind: "table", table: "llm_outputs" }, "JUDGE_STORAGE_TYPE=postgres")
      : read(
          collection(s, "llm_outputs", "JUDGE_PERSIST_DIRECTORY", "/app/judge_service_data"),
          setOr("JUDGE_STORAGE_TYPE"),
        );
  }
  return [];
}

/** Every store the services read, in service order. */
export function storesRead(services: readonly StoreService[]): StoreRead[] {
  return services.flatMap(storesOf);
}

/** Stable key of a store: `table queries`, `collection queries in query`. */
export function storeKey(store: Store): string {
  return store.kind === "table"
    ? `table ${store.table}`
    : `collection ${store.collection} in ${store.dataSet ?? store.persistDir}`;
}

/** The services that read a store found on disk (a collection in a data set, or a table). */
export function readersOf(reads: readonly StoreRead[], found: Store): StoreRead[] {
  return reads.filter((r) =>
    found.kind === "table"
      ? r.store.kind === "table" && r.store.table === found.table
      : r.store.kind === "collection" &&
        r.store.collection === found.collection &&
        r.store.dataSet !== undefined &&
        r.store.dataSet === found.dataSet,
  );
}

/** The configuration under which some service would read a store, for messages. */
export function configToRead(store: Store): string {
  if (store.kind === "table") {
    switch (store.table) {
      case "queries":
        return "query-storage with QUERY_STORAGE_TYPE=postgres (compose era)";
      case "evaluation_metrics":
        return "evaluation-storage with EVALUATION_STORAGE_TYPE=postgres and DATABASE_URL (compose era)";
      case "llm_outputs":
        return "judge-service of release 0.1, or JUDGE_STORAGE_TYPE=postgres (compose era)";
      default:
        return `an item storage with ITEM_STORAGE_TABLE=${store.table} (release 0.1)`;
    }
  }
  const at =
    store.dataSet === undefined ? store.persistDir : `the ${store.dataSet} data set's mount`;
  switch (store.collection) {
    case "queries":
      return `query-storage with QUERY_STORAGE_TYPE=chroma (or unset) and CHROMA_PERSIST_DIRECTORY at ${at} (compose era)`;
    case "evaluation_metrics":
      return `evaluation-storage with EVALUATION_STORAGE_TYPE=chroma (or unset) and EVALUATION_PERSIST_DIRECTORY at ${at} (compose era)`;
    case "llm_outputs":
      return `judge-service with JUDGE_STORAGE_TYPE=chroma (or unset) and JUDGE_PERSIST_DIRECTORY at ${at} (compose era)`;
    default:
      return "no Panopticon service reads this collection";
  }
}

/**
 * The container label that lists, `;`-separated, the stores (storeKey) a service reads:
 * written by the program, read by the guard, which names a store no service reads any
 * more after a change (the environment is secret in a preview; labels are not).
 */
export const STORES_LABEL = LABELS.stores;

/** The STORES_LABEL value of one service. */
export function storesLabel(s: StoreService): string {
  return [...new Set(storesOf(s).map((r) => storeKey(r.store)))].sort().join(";");
}
