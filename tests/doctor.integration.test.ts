import {
  BUSYBOX,
  cleanupEngine,
  docker,
  RUN,
  stackFile,
  startApp,
  TMP,
  tool,
  vol,
} from "./support/pg-engine";

/*
 * doctor on the real engine: what leaves a service without its data (a foreign
 * PG_VERSION, a persist variable under or outside the mount). The healthy case and
 * doctor after an upgrade run in tests/pg-upgrade.integration.test.ts.
 */

jest.setTimeout(300_000);
afterAll(cleanupEngine);

describe("doctor finds what leaves a service without its data", () => {
  const stack = stackFile(`pgd${RUN}`);
  const D = ["--dir", TMP, "--stack", stack];

  beforeAll(() => {
    // A cluster directory that claims another major than the stack's image runs.
    docker(["volume", "create", vol(stack, "postgres")]);
    docker([
      "run",
      "--rm",
      "--mount",
      `type=volume,src=${vol(stack, "postgres")},dst=/data`,
      BUSYBOX,
      "sh",
      "-c",
      "echo 14 > /data/PG_VERSION; mkdir /data/base",
    ]);
    docker(["volume", "create", vol(stack, "query")]);
    docker([
      "run",
      "--rm",
      "--mount",
      `type=volume,src=${vol(stack, "query")},dst=/data`,
      BUSYBOX,
      "sh",
      "-c",
      "echo db > /data/chroma.sqlite3",
    ]);
    // The persist variable points under the mount: ChromaDB would start empty there.
    startApp(
      stack,
      "query-storage",
      "query",
      "/app/query_storage_data",
      "CHROMA_PERSIST_DIRECTORY=/app/query_storage_data/chroma",
    );
    docker(["volume", "create", vol(stack, "judge")]);
    // ...and outside it: writes would land in the container's layer.
    startApp(
      stack,
      "judge-service",
      "judge",
      "/app/judge_service_data",
      "JUDGE_PERSIST_DIRECTORY=/data/judge",
    );
  });

  it("names the PG_VERSION mismatch and both persist-variable mistakes; exit 1", async () => {
    const r = await tool("doctor", D);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /PROBLEM postgres: the Postgres data directory volume \S+ holds a Postgres 14 cluster \(PG_VERSION = 14\), but the image \S+ runs Postgres 15/,
    );
    expect(r.stdout).toMatch(
      /PROBLEM query: CHROMA_PERSIST_DIRECTORY=\/app\/query_storage_data\/chroma is a subdirectory of the mount/,
    );
    expect(r.stdout).toMatch(
      /PROBLEM judge: JUDGE_PERSIST_DIRECTORY=\/data\/judge is outside the mount \/app\/judge_service_data/,
    );
    expect(r.stdout).toMatch(/ok\s+judge: volume \S+ exists and is empty/);
    // The file the test wrote is no SQLite database: doctor names it instead of crashing.
    expect(r.stdout).toMatch(
      /PROBLEM query: chroma.sqlite3 in volume \S+ cannot be read: file is not a database/,
    );
    expect(r.stdout).toMatch(/4 problem\(s\)/);
  });
});
