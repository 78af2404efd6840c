import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseSettings, rawFromStackFile } from "../components/config/settings";
import { fixtureCompose, writeFixtureCheckout } from "../scripts/bench/fixture-checkout";
import { formatImageCases, OFFLINE_BUILD_SOURCE, pinnedTwin } from "../scripts/bench/images";
import {
  benchSource,
  BenchUsageError,
  readStackConfig,
  withAppSource,
  withPromotedRelease,
} from "../scripts/bench/project";
import { PROJECT_DIR } from "./support/harness";

/* The image cases of `npm run bench`: the configs they compare and the lines they print. */

let checkout: string;
beforeAll(() => {
  checkout = fs.mkdtempSync(path.join(os.tmpdir(), "bench-images-checkout-"));
  writeFixtureCheckout(checkout, "compose-era");
});
afterAll(() => fs.rmSync(checkout, { recursive: true, force: true }));

describe("bench checkout: never the one next to the project", () => {
  it("a configured appSource is replaced by the bench's checkout, present or not", () => {
    for (const configured of ["../Argus", "../nope", "tests/fixtures/panopticon-src"]) {
      expect(withAppSource({ "panopticon:appSource": configured }, checkout)).toEqual({
        "panopticon:appSource": checkout,
      });
    }
    expect(readStackConfig(PROJECT_DIR, "dev", checkout)["panopticon:appSource"]).toBe(checkout);
  });

  it("a stack that builds from nothing stays so", () => {
    const pinned = { "panopticon:environment": "aws" };
    expect(withAppSource(pinned, checkout)).toBe(pinned);
    expect(readStackConfig(PROJECT_DIR, "prod", checkout)["panopticon:appSource"]).toBeUndefined();
  });

  it("a stack without a checkout or release runs the checkout's release, as promote leaves it", () => {
    const compose = fixtureCompose("compose-era");
    for (const stack of ["prod", "prod-ecs"]) {
      const config = readStackConfig(PROJECT_DIR, stack, checkout);
      expect(config["panopticon:release"]).toEqual({
        source: { commit: null, dirty: null },
        compose,
      });
      const services = config["panopticon:services"] as Record<string, { image: string }>;
      // One digest per compose service; the database is RDS's on AWS.
      expect(Object.keys(services).sort()).toEqual(
        Object.keys(compose.services)
          .filter((n) => n !== "postgres")
          .sort(),
      );
      for (const { image } of Object.values(services))
        expect(image).toMatch(/@sha256:[0-9a-f]{64}$/);
      const settings = parseSettings(rawFromStackFile(config), { stack, baseDir: PROJECT_DIR });
      expect(settings.images.services.every((s) => s.from === "prebuilt")).toBe(true);
    }
    // A stack holding a release, or a checkout, keeps its own layout.
    const held = { "panopticon:release": { compose: { services: {} } } };
    expect(withPromotedRelease(held, checkout)).toBe(held);
    const dev = { "panopticon:appSource": checkout };
    expect(withPromotedRelease(dev, checkout)).toBe(dev);
  });

  it("without --app-source: a fixture checkout in a temp dir, removed by close()", () => {
    const source = benchSource(undefined, "release-0.1");
    expect(source.what).toBe("fixture checkout (release-0.1)");
    expect(fs.readFileSync(path.join(source.dir, "docker-compose.yml"), "utf8")).toContain(
      "item-storage-queries:",
    );
    expect(path.relative(os.tmpdir(), source.dir).startsWith("..")).toBe(false);
    source.close();
    expect(fs.existsSync(source.dir)).toBe(false);
  });

  it("--app-source: used as given and left alone; a directory without docker-compose.yml is refused", () => {
    const source = benchSource(checkout, "compose-era");
    expect([source.dir, source.what]).toEqual([checkout, checkout]);
    source.close();
    expect(fs.existsSync(path.join(checkout, "docker-compose.yml"))).toBe(true);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "bench-images-empty-"));
    try {
      expect(() => benchSource(empty, "compose-era")).toThrow(BenchUsageError);
      expect(() => benchSource(empty, "compose-era")).toThrow(
        `--app-source = ${JSON.stringify(empty)}: no docker-compose.yml in ${empty}`,
      );
    } finally {
      fs.rmSync(empty, { recursive: true });
    }
  });
});

describe("bench image cases", () => {
  it("the pinned twin pins every built service by digest and drops appSource", () => {
    const own = readStackConfig(PROJECT_DIR, "dev", checkout);
    const twin = pinnedTwin("dev", PROJECT_DIR, own);
    expect(twin.built).toHaveLength(7);
    expect(twin.config["panopticon:appSource"]).toBeUndefined();
    const services = twin.config["panopticon:services"] as Record<string, { image: string }>;
    for (const svc of twin.built) expect(services[svc].image).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(services.postgres.image).toMatch(/:pg15@/);
    // Without a checkout, the layout is the release: the compose file the build read.
    expect(twin.config["panopticon:release"]).toEqual({
      source: { commit: null, dirty: null },
      compose: fixtureCompose("compose-era"),
    });
    const settings = parseSettings(rawFromStackFile(twin.config), {
      stack: "dev",
      baseDir: PROJECT_DIR,
    });
    expect(settings.images.services.every((s) => s.from === "prebuilt")).toBe(true);
    expect(settings.services.map((s) => s.name).sort()).toEqual(
      Object.keys(fixtureCompose("compose-era").services).sort(),
    );
    expect(path.isAbsolute(OFFLINE_BUILD_SOURCE)).toBe(true);
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
