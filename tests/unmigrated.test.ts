import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseSettings, Settings } from "../components/config/settings";
import { localProbe, unmigratedProblem, UnmigratedProbe } from "../components/unmigrated";
import { makeCheckout } from "./support/checkouts";
import { cliStackConfig, runProgram } from "./support/harness";

/*
 * A local stack moved to release 0.1 over compose-era data is refused until the data
 * is migrated or the loss of access is acknowledged; each case with its twin.
 */

const RELEASE = makeCheckout("release-0.1");
const ERA = makeCheckout("compose-era");
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "unmigrated-"));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

function settings(appSource: string, extra: Record<string, unknown> = {}): Settings {
  // Built from the fixture checkout: its compose file is the layout.
  return parseSettings(
    { environment: "local", appSource, ...extra },
    {
      stack: "dev",
      baseDir: TMP,
    },
  );
}

const noEngine: UnmigratedProbe = {
  volumeExists: () => false,
  exists: () => false,
  reports: () => [],
};

describe("volume mode", () => {
  const withVolume = (name: string): UnmigratedProbe => ({
    ...noEngine,
    volumeExists: (v) => v === name,
  });

  test("0.1 over a compose-era query volume: refused, naming it and the command", () => {
    const p = unmigratedProblem(settings(RELEASE), {
      baseDir: TMP,
      probe: withVolume("panopticon-dev-query-data"),
    });
    expect(p).toMatch(
      /panopticon:acknowledgeUnmigratedData = \(missing\): .*data set query \(volume panopticon-dev-query-data\).*npm run migrate-data -- --stack dev/,
    );
  });

  test("twins: no such volume, the compose era itself, an engine that cannot be asked", () => {
    expect(unmigratedProblem(settings(RELEASE), { baseDir: TMP, probe: noEngine })).toBeUndefined();
    expect(
      unmigratedProblem(settings(ERA), {
        baseDir: TMP,
        probe: withVolume("panopticon-dev-query-data"),
      }),
    ).toBeUndefined();
    expect(
      unmigratedProblem(settings(RELEASE), {
        baseDir: TMP,
        probe: { ...noEngine, volumeExists: () => undefined },
      }),
    ).toBeUndefined();
  });

  test("a clean migrate-data report for the stack lets it through; one with problems does not", () => {
    const probe = withVolume("panopticon-dev-evaluation-data");
    const clean = { ...probe, reports: () => [{ stack: "dev", problems: [] }] };
    const damaged = {
      ...probe,
      reports: () => [{ stack: "dev", problems: ["table queries: damaged"] }],
    };
    const other = { ...probe, reports: () => [{ stack: "prod", problems: [] }] };
    expect(unmigratedProblem(settings(RELEASE), { baseDir: TMP, probe: clean })).toBeUndefined();
    expect(unmigratedProblem(settings(RELEASE), { baseDir: TMP, probe: damaged })).toMatch(
      /evaluation/,
    );
    expect(unmigratedProblem(settings(RELEASE), { baseDir: TMP, probe: other })).toMatch(
      /evaluation/,
    );
  });

  test("a stack on the compose-era volumes: their names are the ones looked for", () => {
    const s = settings(RELEASE, { adoptComposeVolumes: true });
    expect(
      unmigratedProblem(s, { baseDir: TMP, probe: withVolume("panopticon_query_data") }),
    ).toMatch(/data set query \(volume panopticon_query_data\)/);
    // Its twin: the stack-scoped name is not this stack's volume then.
    expect(
      unmigratedProblem(s, { baseDir: TMP, probe: withVolume("panopticon-dev-query-data") }),
    ).toBeUndefined();
  });

  test("acknowledged by config: let through", () => {
    const s = settings(RELEASE, { acknowledgeUnmigratedData: true });
    const probe = withVolume("panopticon-dev-query-data");
    expect(
      unmigratedProblem(s, { baseDir: TMP, acknowledged: s.acknowledgeUnmigratedData, probe }),
    ).toBeUndefined();
  });
});

describe("bind mode, on this machine's disk", () => {
  const dataDir = path.join(TMP, "data");
  const bind = { storageMode: "bind", dataDir };

  test("a ./data/query_storage directory, and a judge chroma.sqlite3, are named", () => {
    fs.mkdirSync(path.join(dataDir, "query_storage"), { recursive: true });
    fs.mkdirSync(path.join(dataDir, "judge_service"), { recursive: true });
    fs.writeFileSync(path.join(dataDir, "judge_service", "chroma.sqlite3"), "");
    const p = unmigratedProblem(settings(RELEASE, bind), {
      baseDir: TMP,
      probe: localProbe(TMP, () => undefined),
    });
    expect(p).toContain(`data set query (directory ${path.join(dataDir, "query_storage")})`);
    expect(p).toContain("the ChromaDB collection llm_outputs");
  });

  test("a report written by migrate-data into <project>/backups lets it through", () => {
    fs.mkdirSync(path.join(TMP, "backups"), { recursive: true });
    const report = path.join(TMP, "backups", "dev-20261201T000000Z-migrate-report.json");
    fs.writeFileSync(report, JSON.stringify({ stack: "dev", problems: [] }));
    expect(
      unmigratedProblem(settings(RELEASE, bind), {
        baseDir: TMP,
        probe: localProbe(TMP, () => undefined),
      }),
    ).toBeUndefined();
    fs.rmSync(report);
  });

  test("through the program: refused with nothing registered; acknowledged, it deploys", async () => {
    const config = {
      ...cliStackConfig("dev"),
      "panopticon:appSource": RELEASE,
      "panopticon:storageMode": "bind",
      "panopticon:dataDir": dataDir,
    };
    const refused = await runProgram({
      stack: "dev",
      config,
      secrets: { postgresPassword: "pw-unmigrated-1" },
    });
    expect(refused.error?.message).toMatch(/acknowledgeUnmigratedData = \(missing\)/);
    expect(refused.resources).toEqual([]);
    const ok = await runProgram({
      stack: "dev",
      config: { ...config, "panopticon:acknowledgeUnmigratedData": true },
      secrets: { postgresPassword: "pw-unmigrated-1" },
    });
    if (ok.error) throw ok.error;
    expect(ok.resources.length).toBeGreaterThan(0);
  }, 60_000);
});
