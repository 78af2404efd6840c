import { docs } from "./support/migrate-docs";
import {
  composeTable,
  putChroma,
  removeRelationFile,
  startStackPostgres,
} from "./support/migrate-fixture";
import { cleanupEngine, RUN, stackFile, TMP, tool } from "./support/pg-engine";

/*
 * doctor per store on the real engine, in the situation upstream's own compose-era
 * data is in: query-storage configured with QUERY_STORAGE_TYPE=postgres reads the
 * table `queries`, whose relation file is missing, while the queries themselves sit
 * in the ChromaDB store of the query data set, which no service opens. The twin: the
 * same stack with every store read, where doctor may say so.
 */

jest.setTimeout(300_000);
afterAll(cleanupEngine);

describe("upstream's situation: a damaged table read, a collection unread", () => {
  const stack = stackFile(`dst${RUN}`);
  let r: { code: number | null; stdout: string; stderr: string };
  let file = "";

  beforeAll(async () => {
    const pg = startStackPostgres(stack);
    composeTable(pg, "queries", 12);
    composeTable(pg, "evaluation_metrics", 4);
    putChroma(stack, "query", [{ name: "queries", docs: docs("queries", 7) }]);
    putChroma(stack, "evaluation", [
      { name: "evaluation_metrics", docs: docs("evaluation_metrics", 3) },
    ]);
    file = await removeRelationFile(stack, pg, "queries");
    r = await tool("doctor", ["--dir", TMP, "--stack", stack]);
  });

  it("names the table it cannot read, with Postgres's error and the service that reads it", () => {
    expect(r.stdout).toContain(
      `PROBLEM postgres: table queries: cannot be read: could not open file "${file}"`,
    );
    expect(r.stdout).toMatch(
      /table queries: cannot be read: .*; query-storage \(QUERY_STORAGE_TYPE=postgres\) reads it/,
    );
  });

  it("names the unread collection, its documents, the configuration it needs and the migration", () => {
    expect(r.stdout).toContain(
      `PROBLEM query: collection queries holds 7 documents that no service reads: it needs query-storage with ` +
        `QUERY_STORAGE_TYPE=chroma (or unset) and CHROMA_PERSIST_DIRECTORY at the query data set's mount ` +
        `(compose era); npm run migrate-data -- --stack ${stack} copies it into table items_queries`,
    );
  });

  it("names what is read, and by whom", () => {
    expect(r.stdout).toMatch(
      /ok\s+evaluation: collection evaluation_metrics holds 3 documents, read by evaluation-storage \(EVALUATION_STORAGE_TYPE=chroma\)/,
    );
    // The table evaluation_metrics has rows that nothing reads while evaluation-storage uses ChromaDB.
    expect(r.stdout).toMatch(
      /PROBLEM postgres: table evaluation_metrics holds 4 rows that no service reads/,
    );
  });

  it("exits 1 and never says every service sees its data", () => {
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/sees its data/);
    expect(r.stdout).toMatch(/3 problem\(s\)/);
  });
});

describe("the twin: every store with data is read", () => {
  const stack = stackFile(`dsk${RUN}`);
  let r: { code: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    const pg = startStackPostgres(stack);
    composeTable(pg, "queries", 5);
    putChroma(stack, "evaluation", [
      { name: "evaluation_metrics", docs: docs("evaluation_metrics", 2) },
    ]);
    r = await tool("doctor", ["--dir", TMP, "--stack", stack]);
  });

  it("reports each store with its reader and says every service sees its data; exit 0", () => {
    expect(r.stdout).toMatch(/ok\s+postgres: table queries holds 5 rows, read by query-storage/);
    expect(r.stdout).toMatch(
      /ok\s+evaluation: collection evaluation_metrics holds 2 documents, read by/,
    );
    expect(r.stdout).toMatch(/every service sees its data/);
    expect(r.code).toBe(0);
  });
});
