import * as path from "path";
import { formatImageCases, pinnedTwin } from "../scripts/bench/images";
import { FIXTURE_SOURCE, readStackConfig, withAvailableAppSource } from "../scripts/bench/project";
import { PROJECT_DIR } from "./harness";

/* The image cases of `npm run bench`: the configs they compare and the lines they print. */

describe("bench image cases", () => {
  it("a checkout that is not there is replaced by the fixture; one that is, is kept", () => {
    expect(withAvailableAppSource(PROJECT_DIR, { "panopticon:appSource": "../nope" })).toEqual({
      "panopticon:appSource": FIXTURE_SOURCE,
    });
    const here = { "panopticon:appSource": "tests/fixtures/panopticon-src" };
    expect(withAvailableAppSource(PROJECT_DIR, here)).toBe(here);
    expect(readStackConfig(PROJECT_DIR, "dev")["panopticon:appSource"]).toBe(FIXTURE_SOURCE);
  });

  it("the pinned twin pins every built service by digest and drops appSource", () => {
    const own = readStackConfig(PROJECT_DIR, "dev");
    const twin = pinnedTwin("dev", PROJECT_DIR, own);
    expect(twin.built).toHaveLength(7);
    expect(twin.config["panopticon:appSource"]).toBeUndefined();
    const services = twin.config["panopticon:services"] as Record<string, { image: string }>;
    for (const svc of twin.built) expect(services[svc].image).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(services.postgres.image).toMatch(/:pg15@/);
    expect(path.isAbsolute(FIXTURE_SOURCE)).toBe(true);
  });

  it("prints the ratio against the 1.5x limit and the rebuild figures, or why it skipped", () => {
    const start = {
      stack: "dev",
      built: ["a", "b"],
      buildMs: 160,
      pinnedMs: 100,
      buildRegistrations: 10,
      pinnedRegistrations: 6,
      ratio: 1.6,
    };
    const over = formatImageCases({
      start,
      source: "/src",
      rebuild: { skipped: "no Docker engine" },
    });
    expect(over[0]).toMatch(/1\.60× \(limit 1\.5×: NOT met\)/);
    expect(over[1]).toMatch(/skipped \(no Docker engine\)/);
    const ok = formatImageCases({
      start: { ...start, buildMs: 110, ratio: 1.1 },
      source: "/src",
      rebuild: {
        builder: "classic",
        services: 2,
        firstBuildMs: 900,
        contextHashMs: 3,
        cachedRebuildMs: 400,
        sameIds: true,
      },
    });
    expect(ok[0]).toMatch(/limit 1\.5×: met/);
    expect(ok[1]).toMatch(
      /context hash.* 3 ms; every image rebuilt from cache 400 ms \(same image ids\)/,
    );
  });
});
