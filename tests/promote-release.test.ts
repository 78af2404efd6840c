import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, parseDocument } from "yaml";
import { fixtureCompose } from "../scripts/bench/fixture-checkout";
import { environmentChanges, unmetExpectations } from "../scripts/promote/invariant";
import { formatPlan } from "../scripts/promote/format";
import { planPromotion, StackView } from "../scripts/promote/plan";
import { promote } from "../scripts/promote/run";
import { EXIT } from "../scripts/lib/exit-codes";
import { loadStackFile } from "../scripts/lib/stack-file";
import { applyChanges } from "../scripts/promote/yaml-edit";

/*
 * Promotion carries the layout: dev's `release` output (the Panopticon commit and its
 * docker-compose.yml) becomes prod's `panopticon:release`, and the services it adds
 * or drops show in Pulumi.prod.yaml as added or removed lines. Every other byte of
 * the file stays as it was.
 */

const FIXTURES = path.join(__dirname, "fixtures", "promote");
const DEV = fs.readFileSync(path.join(FIXTURES, "dev.yaml"), "utf8");
const PROD = fs.readFileSync(path.join(FIXTURES, "prod.yaml"), "utf8");
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const COMPOSE_ERA = "e342b64f692e0a1cd2818fdf3cce71399f00bf37";
const RELEASE_01 = "9813441dd14c4af6825f336c0e9f854a80477d48";

/** dev's images: what the dev fixture pins (the compose era's seven services). */
const DEV_IMAGES = Object.fromEntries(
  Object.entries(
    (parse(DEV) as { config: Record<string, Record<string, { image: string }>> }).config[
      "panopticon:services"
    ],
  ).map(([name, block]) => [name, block.image]),
);

function release(commit: string, layout: "compose-era" | "release-0.1", dirty = false) {
  return { source: { commit, dirty }, compose: fixtureCompose(layout) };
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "promote-release-"));
  fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), DEV);
  fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), PROD);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const prod = () => fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");
function outputs(value: unknown): string {
  const f = path.join(dir, "dev-outputs.json");
  fs.writeFileSync(f, JSON.stringify(value));
  return f;
}
const run = (value: unknown, extra: { write?: boolean; check?: boolean } = { write: true }) =>
  promote({ from: "dev", to: "prod", dir, fromOutputs: outputs(value), ...extra });

describe("the release block in Pulumi.prod.yaml", () => {
  it("is written as panopticon:release (source, then compose); every other byte stays", () => {
    const rel = release(COMPOSE_ERA, "compose-era");
    const r = run({ images: DEV_IMAGES, release: rel });
    expect([r.exitCode, r.stderr]).toEqual([EXIT.ok, []]);
    expect(r.stdout).toContain(
      `+ panopticon:release: ${COMPOSE_ERA.slice(0, 12)} (clean) (the layout prod runs; it had none)`,
    );
    const after = prod();
    // The images were already dev's: the release block is all that is new, appended.
    expect(after.startsWith(PROD)).toBe(true);
    const block = after.slice(PROD.length);
    expect(block.split("\n")[0]).toBe("  panopticon:release:");
    expect(block.split("\n").slice(1, 5)).toEqual([
      "    source:",
      `      commit: ${COMPOSE_ERA}`,
      "      dirty: false",
      "    compose:",
    ]);
    const config = parse(after).config;
    expect(config["panopticon:release"]).toEqual(rel);
    expect(Object.keys(config["panopticon:release"])).toEqual(["source", "compose"]);
    // Compose's own strings come back as strings, uninterpolated.
    expect(config["panopticon:release"].compose.services["main-app"].environment).toContain(
      "API_KEY=${API_KEY}",
    );
    expect(run({ images: DEV_IMAGES, release: rel }).stdout).toContain(
      "nothing to promote: Pulumi.prod.yaml already matches Pulumi.dev.yaml",
    );
  });

  it("is replaced, not added again, by the next promotion; the lines around it stay", () => {
    expect(run({ images: DEV_IMAGES, release: release(COMPOSE_ERA, "compose-era") }).exitCode).toBe(
      0,
    );
    // Someone comments it and adds a key after it: both must survive the replacement.
    const edited = prod().replace(
      "  panopticon:release:\n",
      "  # what prod runs (written by promote)\n  panopticon:release:\n",
    );
    const tail = "  other:later: still-here # a comment\n";
    fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), edited + tail);
    const next = {
      ...release(COMPOSE_ERA, "compose-era"),
      source: { commit: "f".repeat(40), dirty: false },
    };
    const r = run({ images: DEV_IMAGES, release: next });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(r.stdout).toContain(
      `~ panopticon:release: ${COMPOSE_ERA.slice(0, 12)} (clean) -> ffffffffffff (clean)`,
    );
    const after = prod();
    expect(after.split("panopticon:release:")).toHaveLength(2);
    expect(
      after.startsWith(`${PROD}  # what prod runs (written by promote)\n  panopticon:release:\n`),
    ).toBe(true);
    expect(after.endsWith(tail)).toBe(true);
    expect(parse(after).config["panopticon:release"]).toEqual(next);
    // Only the commit line differs from the file before.
    const before = (edited + tail).split("\n");
    const now = after.split("\n");
    expect(now.filter((l, i) => l !== before[i])).toEqual([`      commit: ${"f".repeat(40)}`]);
  });

  it("--check exits 3 while only the release differs, writing nothing", () => {
    const r = run(
      { images: DEV_IMAGES, release: release(COMPOSE_ERA, "compose-era") },
      { check: true },
    );
    expect(r.exitCode).toBe(EXIT.problem);
    expect(r.stdout).toContain("1 promotable value(s) differ");
    expect(prod()).toBe(PROD);
  });
});

/*
 * Planned and edited as promote does: the settings on this branch refuse a prod file
 * without pins before the edit, so the full command cannot run on one here.
 */
describe("a prod file that pins no service yet gets its first blocks from the release", () => {
  const start = PROD.indexOf("  panopticon:services:\n");
  const end = PROD.indexOf("  other:setting:");
  const apps = Object.keys(DEV_IMAGES)
    .filter((n) => n !== "postgres")
    .sort();
  // dev's env travels with each new block, keys sorted; "on" is quoted for YAML 1.1 readers.
  const devServices = (parse(DEV) as { config: Record<string, Record<string, { env?: object }>> })
    .config["panopticon:services"];
  const blocks = apps
    .map((n) => {
      const env = Object.entries(devServices[n].env ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
      const lines = env.map(([k, v]) => `        ${k}: ${v === "on" ? '"on"' : v}\n`).join("");
      return `    ${n}:\n      image: ${DEV_IMAGES[n]}\n${lines === "" ? "" : `      env:\n${lines}`}`;
    })
    .join("");
  const source: StackView = {
    stack: "dev",
    fileName: "Pulumi.dev.yaml",
    config: {
      ...(parse(DEV) as { config: Record<string, unknown> }).config,
      "panopticon:release": release(COMPOSE_ERA, "compose-era"),
    },
  };

  it.each([
    ["an empty panopticon:services:", "  panopticon:services:\n", true],
    ["panopticon:services: {}", "  panopticon:services: {}\n", true],
    ["no panopticon:services at all", "", false],
  ])("%s", (_what, services, inPlace) => {
    const text = PROD.slice(0, start) + services + PROD.slice(end);
    const doc = parseDocument(text);
    const target: StackView = {
      stack: "prod",
      fileName: "Pulumi.prod.yaml",
      config: (doc.toJS() as { config: Record<string, unknown> }).config,
    };
    const plan = planPromotion(source, target);
    expect(plan.problems).toEqual([]);
    expect(plan.layout?.added).toEqual(apps);
    const after = applyChanges(text, doc, plan.changes, {
      release: plan.release?.to,
      vanished: plan.layout?.removed,
      removedBlocks: plan.removedBlocks,
    });
    const services_ = `  panopticon:services:\n${blocks}`;
    // In place of the empty one, else after the last config key; the release after that.
    const expected = inPlace
      ? PROD.slice(0, start) + services_ + PROD.slice(end)
      : `${text}${services_}`;
    expect(after.startsWith(`${expected}`)).toBe(true);
    expect(after.slice(expected.length).split("\n")[0]).toBe("  panopticon:release:");
    const afterDoc = parseDocument(after).toJS() as { config: Record<string, unknown> };
    expect(
      environmentChanges(doc.toJS(), afterDoc, {
        added: plan.newBlocks,
        removed: plan.removedBlocks,
      }),
    ).toEqual([]);
    expect(unmetExpectations(plan, afterDoc.config)).toEqual([]);
  });
});

describe("how the stack files are checked when a release is carried", () => {
  it("the source is checked with the release it deployed, which never enters its config", () => {
    const rel = release(COMPOSE_ERA, "compose-era");
    const source = loadStackFile(dir, "dev", "--from", { assume: { "panopticon:release": rel } });
    expect(source.config["panopticon:release"]).toBeUndefined();
    expect(source.settings).toBeDefined();
  });

  it("a target without a release yet is checked on the edited text only", () => {
    const target = loadStackFile(dir, "prod", "--to", { settings: "after-edit" });
    expect([target.settings, target.text]).toEqual([undefined, PROD]);
    // ... which promote does: an edit that leaves prod invalid is refused (exit 1).
    const bad = PROD.replace("instanceType: t3.large", "instanceType: big");
    fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), bad);
    const r = run({ images: DEV_IMAGES, release: release(COMPOSE_ERA, "compose-era") });
    expect(r.exitCode).toBe(EXIT.problem);
    expect(r.stderr[0]).toMatch(
      /Pulumi\.prod\.yaml \(after promotion\): .*\n.*panopticon:aws\.instanceType/,
    );
    expect(prod()).toBe(bad);
  });

  it("a target that holds a release is checked before the edit, as always (exit 2)", () => {
    const text = `${PROD.replace("instanceType: t3.large", "instanceType: big")}  panopticon:release: ${JSON.stringify(release(COMPOSE_ERA, "compose-era"))}\n`;
    fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), text);
    const r = run({ images: DEV_IMAGES, release: release(RELEASE_01, "compose-era") });
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr[0]).toMatch(/^promote: error: \S*\/Pulumi\.prod\.yaml: Invalid configuration/);
  });
});

describe("promotion refuses a release it cannot vouch for, writing nothing", () => {
  it("a release built from a checkout with local changes (exit 1, one line)", () => {
    const r = run({ images: DEV_IMAGES, release: release(COMPOSE_ERA, "compose-era", true) });
    expect(r.exitCode).toBe(EXIT.problem);
    expect(r.stderr).toEqual([
      expect.stringMatching(
        /^promote: refused: release in .*: stack dev was deployed from a Panopticon checkout with local changes \(at e342b64f6.*\), and a checkout with local changes is not a release: commit them, deploy dev again, then promote$/,
      ),
      "nothing was written",
    ]);
    expect(prod()).toBe(PROD);
  });

  it("outputs without a release: the program that deployed dev is older (exit 1)", () => {
    const r = run({ images: DEV_IMAGES, endpoints: {} });
    expect(r.exitCode).toBe(EXIT.problem);
    expect(r.stderr[0]).toMatch(/have no "release" .*deploy dev with this version of the program/);
    expect(prod()).toBe(PROD);
  });

  it.each([
    [
      "a dirty flag that is not a boolean",
      { ...release(COMPOSE_ERA, "compose-era"), source: { commit: "x", dirty: "yes" } },
      /release\.source\.dirty = "yes": expected true, false or null/,
    ],
    [
      "a compose without services",
      { source: { commit: null, dirty: null }, compose: { version: "3" } },
      /release\.compose = .*: expected the checkout's docker-compose\.yml/,
    ],
    [
      "an unknown key",
      { ...release(COMPOSE_ERA, "compose-era"), env: {} },
      /release\.env = \{\}: expected only source and compose/,
    ],
  ])("a release with %s (exit 2)", (_what, value, msg) => {
    const r = run({ images: DEV_IMAGES, release: value });
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr[0]).toMatch(msg);
    expect(prod()).toBe(PROD);
  });

  it("a stack file whose panopticon:release is malformed", () => {
    fs.writeFileSync(
      path.join(dir, "Pulumi.prod.yaml"),
      `${PROD}  panopticon:release: {source: {commit: 1}}\n`,
    );
    const r = run({ images: DEV_IMAGES, release: release(COMPOSE_ERA, "compose-era") });
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr[0]).toMatch(
      /Pulumi\.prod\.yaml: panopticon:release: release\.source\.commit = 1/,
    );
  });
});

/*
 * A release that changes the layout, planned and edited as promote does (the plan,
 * the edit, the invariant). The program's settings on this branch do not read a
 * release yet, so the full command cannot validate a 0.1 prod file here.
 */
describe("a release that drops two services and adds two (compose era -> 0.1)", () => {
  const doc = parseDocument(PROD);
  const target: StackView = {
    stack: "prod",
    fileName: "Pulumi.prod.yaml",
    config: (doc.toJS() as { config: Record<string, unknown> }).config,
  };
  const rel = release(RELEASE_01, "release-0.1");
  const images: Record<string, string> = {
    "main-app": `ghcr.io/panopticon-ai/main-app:1.0.0@${digest("8")}`,
    "visualization-service": `ghcr.io/panopticon-ai/visualization-service:1.0.0@${digest("9")}`,
    "judge-service": `ghcr.io/panopticon-ai/judge-service:1.1.0@${digest("1")}`,
    "model-registry": `ghcr.io/panopticon-ai/model-registry:1.0.0@${digest("4")}`,
    "item-storage-queries": `ghcr.io/panopticon-ai/item-storage:0.1.0@${digest("a")}`,
    "item-storage-metrics": `ghcr.io/panopticon-ai/item-storage:0.1.0@${digest("a")}`,
  };
  const source: StackView = {
    stack: "dev",
    fileName: "Pulumi.dev.yaml",
    config: {
      "panopticon:environment": "local",
      "panopticon:release": rel,
      "panopticon:services": {
        ...Object.fromEntries(Object.entries(images).map(([n, image]) => [n, { image }])),
        "judge-service": {
          image: images["judge-service"],
          env: { LOG_LEVEL: "info", FEATURE_X: "on" },
        },
        "model-registry": { image: images["model-registry"], env: { LOG_LEVEL: "info" } },
        postgres: { image: "postgres:15" },
      },
    },
  };
  const plan = planPromotion(source, target);
  const after = applyChanges(PROD, doc, plan.changes, {
    release: plan.release?.to,
    vanished: plan.layout?.removed,
    removedBlocks: plan.removedBlocks,
  });

  it("the summary names the services that appear and disappear", () => {
    const lines = formatPlan(plan, source, target);
    expect(lines).toEqual(
      expect.arrayContaining([
        `release: Panopticon ${RELEASE_01.slice(0, 12)} (clean), 7 services: item-storage-metrics, item-storage-queries, judge-service, main-app, model-registry, postgres, visualization-service`,
        "+ service item-storage-metrics: new in this release",
        "+ service item-storage-queries: new in this release",
        "- service evaluation-storage: not in this release any more: its block leaves Pulumi.prod.yaml",
        "- service query-storage: not in this release any more: its image and env leave Pulumi.prod.yaml, its other settings stay",
        expect.stringMatching(
          /^ {2}skipped panopticon:services\.postgres: kind postgres and prod is environment aws/,
        ),
      ]),
    );
    expect(plan.problems).toEqual([]);
  });

  it("Pulumi.prod.yaml: the dropped services' lines go, the new ones are added, the rest is byte-identical", () => {
    const q = `ghcr.io/panopticon-ai/query-storage:1.0.0@${digest("2")}`;
    const e = `'ghcr.io/panopticon-ai/evaluation-storage:1.0.0@${digest("3")}'`;
    const expected = PROD.replace(
      `    query-storage: {image: ${q}, hostPort: false}\n` +
        `    evaluation-storage:\n        image: ${e}\n        env: { LOG_LEVEL: warn }     # flow map with spaces\n`,
      "    query-storage: {hostPort: false}\n",
    ).replace(
      `    visualization-service: {image: ${images["visualization-service"]}}\n`,
      `    visualization-service: {image: ${images["visualization-service"]}}\n` +
        `    item-storage-metrics:\n      image: ${images["item-storage-metrics"]}\n` +
        `    item-storage-queries:\n      image: ${images["item-storage-queries"]}\n`,
    );
    expect(expected).not.toBe(PROD);
    expect(after.startsWith(expected)).toBe(true);
    expect(after.slice(expected.length).split("\n")[0]).toBe("  panopticon:release:");
    expect(parse(after).config["panopticon:release"]).toEqual(rel);
  });

  it("the invariant lets exactly these blocks come and go, and finds every promised value", () => {
    expect([...plan.newBlocks].sort()).toEqual(["item-storage-metrics", "item-storage-queries"]);
    expect([...plan.removedBlocks]).toEqual(["evaluation-storage"]);
    const afterDoc = parseDocument(after).toJS() as { config: Record<string, unknown> };
    expect(
      environmentChanges(doc.toJS(), afterDoc, {
        added: plan.newBlocks,
        removed: plan.removedBlocks,
      }),
    ).toEqual([]);
    expect(unmetExpectations(plan, afterDoc.config)).toEqual([]);
    // The same edit without the plan's leave is an environment change.
    expect(environmentChanges(doc.toJS(), afterDoc)).toEqual([
      "config.panopticon:services.evaluation-storage: block removed",
      "config.panopticon:services.item-storage-metrics: block added",
      "config.panopticon:services.item-storage-queries: block added",
    ]);
  });

  it("a dropped service's environment-only setting stays, and the invariant would catch its loss", () => {
    const afterDoc = parseDocument(after).toJS() as {
      config: { "panopticon:services": Record<string, unknown> };
    };
    expect(afterDoc.config["panopticon:services"]["query-storage"]).toEqual({ hostPort: false });
    const lost = structuredClone(afterDoc);
    delete lost.config["panopticon:services"]["query-storage"];
    expect(
      environmentChanges(doc.toJS(), lost, {
        added: plan.newBlocks,
        removed: new Set([...plan.removedBlocks, "query-storage"]),
      }),
    ).toEqual(["config.panopticon:services.query-storage.hostPort: false -> (absent)"]);
  });

  it("a second promotion of the same release changes nothing", () => {
    const again = planPromotion(source, {
      ...target,
      config: (parseDocument(after).toJS() as { config: Record<string, unknown> }).config,
    });
    expect([again.changes, again.release, again.layout?.added, again.layout?.removed]).toEqual([
      [],
      undefined,
      [],
      [],
    ]);
  });

  it("a service prod's file defines itself (its own port) is left alone, not dropped", () => {
    const services = target.config["panopticon:services"] as Record<string, unknown>;
    const withMetrics: StackView = {
      ...target,
      config: {
        ...target.config,
        "panopticon:services": {
          ...services,
          metrics: { image: `grafana/agent:v0.40.0@${digest("6")}`, port: 9090 },
        },
      },
    };
    const p = planPromotion(source, withMetrics);
    expect(p.layout?.removed).toEqual(["evaluation-storage", "query-storage"]);
    expect(p.targetOnly).toEqual(["metrics"]);
    expect(p.changes.filter((c) => c.service === "metrics")).toEqual([]);
  });

  it("the database is the service that mounts /var/lib/postgresql/data, whatever its name", () => {
    const compose = fixtureCompose("release-0.1");
    const services = compose.services as Record<string, unknown>;
    const renamed = { ...compose, services: { ...services, db: services.postgres } };
    delete (renamed.services as Record<string, unknown>).postgres;
    const p = planPromotion(
      {
        ...source,
        config: {
          ...source.config,
          "panopticon:release": { source: rel.source, compose: renamed },
          "panopticon:services": {
            ...Object.fromEntries(Object.entries(images).map(([n, image]) => [n, { image }])),
            db: { image: "postgres:15" },
          },
        },
      },
      target,
    );
    expect(p.skipped.map((s) => s.service)).toContain("db");
    expect(p.newBlocks.has("db")).toBe(false);
    expect(p.problems).toEqual([]);
  });
});
