import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseSettings, rawFromStackFile } from "../components/config/settings";
import {
  configToRead,
  migrationTarget,
  readersOf,
  Store,
  StoreService,
  storesOf,
  storesRead,
} from "../components/stores";
import { storeServicesOf } from "../scripts/lib/migrate/sources";
import { PROJECT_DIR, FIXTURE_SOURCE } from "./support/harness";

/*
 * Which store each service reads, from its environment alone. Every rule has the
 * configuration that reads a store and the one that leaves it unread.
 */

const svc = (
  name: string,
  env: Record<string, string>,
  data?: { set: string; path: string },
  database = true,
): StoreService => ({ name, env: Object.entries(env).sort(), data, database });

const QUERY = { set: "query", path: "/app/query_storage_data" };
const EVAL = { set: "evaluation", path: "/app/evaluation_storage_data" };
const JUDGE = { set: "judge", path: "/app/judge_service_data" };

describe("compose-era query-storage", () => {
  it("QUERY_STORAGE_TYPE=postgres reads the table queries, not the collection beside it", () => {
    const [r] = storesOf(svc("query-storage", { QUERY_STORAGE_TYPE: "postgres" }, QUERY));
    expect(r.store).toEqual({ kind: "table", table: "queries" });
    const chroma: Store = {
      kind: "collection",
      collection: "queries",
      persistDir: "/app/query_storage_data",
      dataSet: "query",
    };
    expect(readersOf([r], chroma)).toEqual([]);
  });

  it("chroma (and unset, the code's default) reads the collection in the mounted data set", () => {
    for (const env of <Array<Record<string, string>>>[
      { QUERY_STORAGE_TYPE: "chroma", CHROMA_PERSIST_DIRECTORY: QUERY.path },
      { CHROMA_PERSIST_DIRECTORY: QUERY.path },
      {},
    ]) {
      const [r] = storesOf(svc("query-storage", env, QUERY));
      expect(r.store).toEqual({
        kind: "collection",
        collection: "queries",
        persistDir: QUERY.path,
        dataSet: "query",
      });
    }
  });

  it("a persist directory below the mount reads no data set (ChromaDB starts empty there)", () => {
    const [r] = storesOf(
      svc("query-storage", { CHROMA_PERSIST_DIRECTORY: `${QUERY.path}/chroma` }, QUERY),
    );
    expect(r.store).toMatchObject({ kind: "collection", dataSet: undefined });
  });
});

describe("compose-era evaluation-storage", () => {
  it("postgres with a database reads the table evaluation_metrics", () => {
    const [r] = storesOf(svc("evaluation-storage", { EVALUATION_STORAGE_TYPE: "postgres" }, EVAL));
    expect(r.store).toEqual({ kind: "table", table: "evaluation_metrics" });
  });

  it("postgres without DATABASE_URL falls back to the collection, as the factory does", () => {
    const [r] = storesOf(
      svc("evaluation-storage", { EVALUATION_STORAGE_TYPE: "postgres" }, EVAL, false),
    );
    expect(r.store).toMatchObject({ kind: "collection", collection: "evaluation_metrics" });
    expect(r.because).toMatch(/without DATABASE_URL/);
  });

  it("unset reads the collection evaluation_metrics (the code's default)", () => {
    const [r] = storesOf(svc("evaluation-storage", {}, EVAL));
    expect(r.store).toMatchObject({ kind: "collection", dataSet: "evaluation" });
  });
});

describe("judge-service in both eras", () => {
  it("compose era: JUDGE_STORAGE_TYPE unset but the persist variable set reads the collection", () => {
    const [r] = storesOf(svc("judge-service", { JUDGE_PERSIST_DIRECTORY: JUDGE.path }, JUDGE));
    expect(r.store).toMatchObject({
      kind: "collection",
      collection: "llm_outputs",
      dataSet: "judge",
    });
  });

  it("compose era: JUDGE_STORAGE_TYPE=postgres reads the table llm_outputs", () => {
    const [r] = storesOf(svc("judge-service", { JUDGE_STORAGE_TYPE: "postgres" }, JUDGE));
    expect(r.store).toEqual({ kind: "table", table: "llm_outputs" });
  });

  it("0.1: neither variable, so the table llm_outputs; the collection left in the data set is unread", () => {
    const reads = storesOf(svc("judge-service", { LOG_LEVEL: "INFO" }, JUDGE));
    expect(reads.map((r) => r.store)).toEqual([{ kind: "table", table: "llm_outputs" }]);
    const left: Store = {
      kind: "collection",
      collection: "llm_outputs",
      persistDir: JUDGE.path,
      dataSet: "judge",
    };
    expect(readersOf(reads, left)).toEqual([]);
  });
});

describe("0.1 item storages", () => {
  it("read the table ITEM_STORAGE_TABLE names, and nothing reads the compose-era tables", () => {
    const reads = storesRead([
      svc("item-storage-queries", { ITEM_STORAGE_TABLE: "items_queries", ITEM_TYPE_NAME: "query" }),
      svc("item-storage-metrics", { ITEM_STORAGE_TABLE: "items_metrics" }),
      svc("main-app", { QUERY_STORAGE_URL: "http://item-storage-queries:8000" }),
    ]);
    expect(reads.map((r) => [r.service, r.store])).toEqual([
      ["item-storage-queries", { kind: "table", table: "items_queries" }],
      ["item-storage-metrics", { kind: "table", table: "items_metrics" }],
    ]);
    expect(readersOf(reads, { kind: "table", table: "items_queries" })).toHaveLength(1);
    expect(readersOf(reads, { kind: "table", table: "queries" })).toEqual([]);
  });
});

describe("migration targets and the configuration a store needs", () => {
  it("maps every compose-era store to its 0.1 table, and 0.1 tables to nothing", () => {
    expect(migrationTarget({ kind: "table", table: "queries" })).toBe("items_queries");
    expect(migrationTarget({ kind: "table", table: "evaluation_metrics" })).toBe("items_metrics");
    const c = (collection: string): Store => ({ kind: "collection", collection, persistDir: "/x" });
    expect(migrationTarget(c("queries"))).toBe("items_queries");
    expect(migrationTarget(c("evaluation_metrics"))).toBe("items_metrics");
    expect(migrationTarget(c("llm_outputs"))).toBe("llm_outputs");
    expect(migrationTarget({ kind: "table", table: "items_queries" })).toBeUndefined();
    expect(migrationTarget({ kind: "table", table: "llm_outputs" })).toBeUndefined();
  });

  it("names the configuration that would read a store", () => {
    expect(configToRead({ kind: "table", table: "queries" })).toMatch(
      /QUERY_STORAGE_TYPE=postgres/,
    );
    expect(configToRead({ kind: "table", table: "items_metrics" })).toMatch(
      /ITEM_STORAGE_TABLE=items_metrics/,
    );
    expect(
      configToRead({
        kind: "collection",
        collection: "queries",
        persistDir: "/d",
        dataSet: "query",
      }),
    ).toMatch(/CHROMA_PERSIST_DIRECTORY at the query data set's mount/);
  });
});

describe("the stack's resolved services (compose-era catalogue, dev stack)", () => {
  const file = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as {
    config: Record<string, unknown>;
  };
  // The checkout it names (../Argus) is the user's; the tests read the fixture one.
  const settings = parseSettings(
    rawFromStackFile({ ...file.config, "panopticon:appSource": FIXTURE_SOURCE }),
    { stack: "dev", baseDir: PROJECT_DIR },
  );
  it("query-storage reads the table, evaluation and judge their collections in their data sets", () => {
    const reads = storesRead(storeServicesOf(settings));
    const by = Object.fromEntries(reads.map((r) => [r.service, r.store]));
    expect(by["query-storage"]).toEqual({ kind: "table", table: "queries" });
    expect(by["evaluation-storage"]).toMatchObject({
      kind: "collection",
      collection: "evaluation_metrics",
      dataSet: "evaluation",
    });
    expect(by["judge-service"]).toMatchObject({
      kind: "collection",
      collection: "llm_outputs",
      dataSet: "judge",
    });
    // So the queries collection ChromaDB keeps in the query data set has no reader.
    expect(
      readersOf(reads, {
        kind: "collection",
        collection: "queries",
        persistDir: "/app/query_storage_data",
        dataSet: "query",
      }),
    ).toEqual([]);
  });
});
