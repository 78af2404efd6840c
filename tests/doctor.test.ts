import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseSettings, rawFromStackFile } from "../components/config/settings";
import { ContainerInfo } from "../scripts/lib/docker";
import { judge, parseProbe } from "../scripts/lib/doctor-core";
import { PROJECT_DIR, FIXTURE_SOURCE } from "./support/harness";

/*
 * doctor's verdicts from the facts (pure): each rule with a compliant case and
 * the case it must catch. The engine side runs in tests/pg-upgrade.integration.test.ts.
 */

const file = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as {
  config: Record<string, unknown>;
};
// The checkout it names (../Argus) is the user's; the tests read the fixture one.
file.config["panopticon:appSource"] = FIXTURE_SOURCE;
const settings = parseSettings(
  rawFromStackFile({
    ...file.config,
    "panopticon:services": {
      ...(file.config["panopticon:services"] as object),
      postgres: { image: "pgvector/pgvector:0.8.0-pg15-bookworm" },
    },
  }),
  { stack: "dev", baseDir: PROJECT_DIR },
);
const svc = (name: string) => settings.services.find((s) => s.name === name)!;
const query = svc("query-storage");
const pg = svc("postgres");

function container(over: Partial<ContainerInfo> & { env?: string[] }): ContainerInfo {
  return {
    id: "c1",
    name: query.containerName,
    running: true,
    image: "img",
    imageId: "sha256:1",
    mounts: [
      {
        type: "volume",
        name: query.dataSet!.volumeName,
        source: "/var/lib/docker/x",
        destination: query.dataSet!.mountPath,
      },
    ],
    env: [`${query.dataSet!.persistEnv}=${query.dataSet!.mountPath}`],
    ...over,
  };
}

const problems = (f: ReturnType<typeof judge>) => f.filter((x) => !x.ok).map((x) => x.message);
const base = {
  settings,
  service: query,
  dataSet: query.dataSet!,
  exists: true,
  probe: { entries: 3, bytes: 4096 },
};

describe("doctor: mount and persist variable", () => {
  it("the stack's volume at the mount path, the persist variable on it: no problem", () => {
    const f = judge({ ...base, container: container({}) });
    expect(problems(f)).toEqual([]);
    expect(f.map((x) => x.message).join("\n")).toMatch(/holds data: 3 entries, 4\.0 KiB/);
  });

  it("another volume at the mount path is caught", () => {
    const c = container({
      mounts: [
        { type: "volume", name: "other", source: "/x", destination: query.dataSet!.mountPath },
      ],
    });
    expect(problems(judge({ ...base, container: c }))).toEqual([
      expect.stringMatching(
        /mounts volume other at \/app\/query_storage_data, not volume panopticon-dev-query-data/,
      ),
    ]);
  });

  it("nothing mounted at the mount path is caught", () => {
    expect(problems(judge({ ...base, container: container({ mounts: [] }) }))[0]).toMatch(
      /mounts nothing at/,
    );
  });

  it("a persist variable under the mount, or outside it, is caught", () => {
    const sub = container({ env: [`CHROMA_PERSIST_DIRECTORY=${query.dataSet!.mountPath}/db`] });
    expect(problems(judge({ ...base, container: sub }))[0]).toMatch(
      /is a subdirectory of the mount/,
    );
    const out = container({ env: ["CHROMA_PERSIST_DIRECTORY=/tmp/chroma"] });
    expect(problems(judge({ ...base, container: out }))[0]).toMatch(
      /is outside the mount .*container's own layer/,
    );
  });

  it("no container: only the data is reported", () => {
    expect(problems(judge({ ...base, container: undefined }))).toEqual([]);
  });
});

describe("doctor: PG_VERSION", () => {
  const pgBase = { settings, service: pg, dataSet: pg.dataSet!, exists: true };
  it("PG_VERSION of the stack's major: no problem", () => {
    expect(
      problems(judge({ ...pgBase, probe: { pgVersion: "15", entries: 20, bytes: 1 } })),
    ).toEqual([]);
  });
  it("PG_VERSION of another major is caught, both named", () => {
    expect(
      problems(judge({ ...pgBase, probe: { pgVersion: "14", entries: 20, bytes: 1 } })),
    ).toEqual([
      expect.stringMatching(
        /holds a Postgres 14 cluster \(PG_VERSION = 14\), but the image \S+ runs Postgres 15/,
      ),
    ]);
  });
  it("parses the helper's probe output", () => {
    expect(parseProbe("15\n21\n40960\n")).toEqual({
      pgVersion: "15",
      entries: 21,
      bytes: 40960 * 1024,
    });
    expect(parseProbe("-\n0\n4\n")).toEqual({ pgVersion: undefined, entries: 0, bytes: 4096 });
  });
});
