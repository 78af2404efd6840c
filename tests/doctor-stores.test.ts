import { storesOf } from "../components/stores";
import { judgeStores } from "../scripts/lib/doctor-stores";

/*
 * doctor's verdict per store (pure): a store with data and a reader is fine, the
 * same store without one is a problem that names the configuration and the
 * migration; an unreadable store is always a problem; an empty unread one is not.
 */

const query = storesOf({
  name: "query-storage",
  env: [["QUERY_STORAGE_TYPE", "postgres"]],
  data: { set: "query", path: "/app/query_storage_data" },
});
const item = storesOf({
  name: "item-storage-queries",
  env: [["ITEM_STORAGE_TABLE", "items_queries"]],
});
const collection = {
  kind: "collection" as const,
  collection: "queries",
  persistDir: "/app/query_storage_data",
  dataSet: "query",
};

describe("doctor per store", () => {
  it("a table with rows and a reader is ok; under 0.1's services the same table is a problem", () => {
    const found = [
      { store: { kind: "table" as const, table: "queries" }, dataSet: "postgres", rows: 3 },
    ];
    const [ok] = judgeStores({ stack: "dev", reads: query, found, tablesChecked: true });
    expect(ok).toEqual({
      dataSet: "postgres",
      ok: true,
      message: "table queries holds 3 rows, read by query-storage (QUERY_STORAGE_TYPE=postgres)",
    });
    const [bad] = judgeStores({ stack: "dev", reads: item, found, tablesChecked: true });
    expect(bad.ok).toBe(false);
    expect(bad.message).toBe(
      "table queries holds 3 rows that no service reads: it needs query-storage with " +
        "QUERY_STORAGE_TYPE=postgres (compose era); npm run migrate-data -- --stack dev copies it into table items_queries",
    );
  });

  it("an unread collection with documents is a problem; an empty one is not", () => {
    const [bad] = judgeStores({
      stack: "dev",
      reads: query,
      found: [{ store: collection, dataSet: "query", rows: 2 }],
      tablesChecked: true,
    });
    expect(bad).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^collection queries holds 2 documents that no service reads/),
    });
    const [empty] = judgeStores({
      stack: "dev",
      reads: query,
      found: [{ store: collection, dataSet: "query", rows: 0 }],
      tablesChecked: true,
    });
    expect(empty.ok).toBe(true);
  });

  it("a store that cannot be read is a problem even when a service reads it", () => {
    const found = [
      {
        store: { kind: "table" as const, table: "queries" },
        dataSet: "postgres",
        error: 'could not open file "base/5/16390": No such file or directory',
      },
    ];
    const [f] = judgeStores({ stack: "dev", reads: query, found, tablesChecked: true });
    expect(f.ok).toBe(false);
    expect(f.message).toMatch(
      /table queries: cannot be read: could not open file "base\/5\/16390".*; query-storage .* reads it/,
    );
  });

  it("says a read table does not exist yet only when Postgres was asked", () => {
    expect(judgeStores({ stack: "dev", reads: item, found: [], tablesChecked: true })).toEqual([
      expect.objectContaining({
        ok: true,
        message: expect.stringMatching(/items_queries does not exist yet/),
      }),
    ]);
    expect(judgeStores({ stack: "dev", reads: item, found: [], tablesChecked: false })).toEqual([]);
  });
});
