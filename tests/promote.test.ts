import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { fixtureCompose } from "../scripts/bench/fixture-checkout";
import { promote, PromoteOptions, writeAtomically } from "../scripts/promote/run";
import { EXIT } from "../scripts/lib/exit-codes";

/*
 * File-to-file promotion: the source is a stack without a checkout, so its file holds
 * the release it runs (panopticon:release) and pins every image, and promote reads
 * that file (no Pulumi CLI). Prod has been promoted before: it holds the same release.
 */
const FIXTURES = path.join(__dirname, "fixtures", "promote");
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");
/** The release block as promote writes it, its header comment left out. */
const RELEASE = fixture("release.yaml").replace(/^(#.*\n)+/, "");
const DEV_FILE = fixture("dev.yaml");
const PROD_FILE = fixture("prod.yaml");
/** `text` holding the compose era's release, as a stack promoted to holds it. */
const released = (text: string) => text + RELEASE;
const DEV = released(DEV_FILE);
const PROD = released(PROD_FILE);
const digest = (c: string) => `sha256:${c.repeat(64)}`;

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A temp project dir holding the given stack files. */
function project(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "promote-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

function read(dir: string, name = "Pulumi.prod.yaml"): string {
  return fs.readFileSync(path.join(dir, name), "utf8");
}

/** `text` with each `[from, to]` replaced exactly once (and asserting each occurs once). */
function replaced(text: string, ...pairs: [string, string][]): string {
  let out = text;
  for (const [from, to] of pairs) {
    expect(out.split(from)).toHaveLength(2);
    out = out.replace(from, () => to);
  }
  return out;
}

function run(dir: string, extra: Partial<PromoteOptions> = {}) {
  return promote({ from: "dev", to: "prod", dir, ...extra });
}

describe("the release fixture", () => {
  it("is byte for byte what promote writes for the compose era's release", () => {
    // Prod before its first release, promoted from dev's outputs (its images, its release).
    const dir = project({ "Pulumi.dev.yaml": DEV_FILE, "Pulumi.prod.yaml": PROD_FILE });
    const services = (parse(DEV_FILE) as { config: Record<string, Record<string, object>> }).config[
      "panopticon:services"
    ];
    const images = Object.fromEntries(
      Object.entries(services).map(([name, block]) => [name, (block as { image: string }).image]),
    );
    const release = {
      source: { commit: "e342b64f692e0a1cd2818fdf3cce71399f00bf37", dirty: false },
      compose: fixtureCompose("compose-era"),
    };
    const outputs = path.join(dir, "dev-outputs.json");
    fs.writeFileSync(outputs, JSON.stringify({ images, release }));
    const r = run(dir, { write: true, fromOutputs: outputs });
    expect([r.exitCode, r.stderr]).toEqual([EXIT.ok, []]);
    expect(read(dir)).toBe(PROD);
    expect(parse(PROD).config["panopticon:release"]).toEqual(release);
  });
});

describe("promote dev -> prod", () => {
  it("is a no-op when the promotable settings are equal", () => {
    const dir = project({ "Pulumi.dev.yaml": DEV, "Pulumi.prod.yaml": PROD });
    const r = run(dir, { write: true });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(r.written).toBe(false);
    expect(r.stdout).toContain(
      "nothing to promote: Pulumi.prod.yaml already matches Pulumi.dev.yaml",
    );
    expect(read(dir)).toBe(PROD);
  });

  it("shows a changed digest without writing, then --write changes exactly that value", () => {
    const dev = replaced(DEV, [digest("1"), digest("a")]);
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": PROD });

    const dry = run(dir);
    expect(dry.exitCode).toBe(EXIT.ok);
    expect(dry.stdout).toContain(
      `~ panopticon:services.judge-service.image: "ghcr.io/panopticon-ai/judge-service:1.1.0@${digest("1")}" -> "ghcr.io/panopticon-ai/judge-service:1.1.0@${digest("a")}"`,
    );
    expect(read(dir)).toBe(PROD);

    const wet = run(dir, { write: true });
    expect(wet.exitCode).toBe(EXIT.ok);
    expect(wet.written).toBe(true);
    // Byte for byte: the double-quoted value and its trailing comment stay as they were.
    expect(read(dir)).toBe(replaced(PROD, [digest("1"), digest("a")]));
    expect(fs.readdirSync(dir).sort()).toEqual(["Pulumi.dev.yaml", "Pulumi.prod.yaml"]);
    // A second run finds nothing left to do.
    expect(run(dir, { write: true }).stdout).toContain(
      "nothing to promote: Pulumi.prod.yaml already matches Pulumi.dev.yaml",
    );
  });

  it("keeps each value's quoting: flow map plain, single-quoted, 4-space indented", () => {
    const dev = replaced(DEV, [digest("2"), digest("b")], [digest("3"), digest("c")]);
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": PROD });
    expect(run(dir, { write: true }).exitCode).toBe(EXIT.ok);
    expect(read(dir)).toBe(
      replaced(
        PROD,
        [
          `query-storage:1.0.0@${digest("2")}, hostPort`,
          `query-storage:1.0.0@${digest("b")}, hostPort`,
        ],
        [
          `'ghcr.io/panopticon-ai/evaluation-storage:1.0.0@${digest("3")}'`,
          `'ghcr.io/panopticon-ai/evaluation-storage:1.0.0@${digest("c")}'`,
        ],
      ),
    );
  });

  it("changes, adds and removes env keys in block and flow maps", () => {
    const dev = replaced(
      DEV,
      ["        LOG_LEVEL: info\n        FEATURE_X", "        LOG_LEVEL: debug\n        FEATURE_X"],
      ['FEATURE_X: "on"', "NEW_FLAG: 'yes please'"],
      ["env: {LOG_LEVEL: warn}", "env: {LOG_LEVEL: warn, TIMEOUT: '30'}"],
    );
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": PROD });
    const r = run(dir, { write: true });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(r.stdout).toEqual(
      expect.arrayContaining([
        '+ panopticon:services.evaluation-storage.env.TIMEOUT: "30"',
        '~ panopticon:services.judge-service.env.LOG_LEVEL: "info" -> "debug"',
        '- panopticon:services.judge-service.env.FEATURE_X: "on"',
        '+ panopticon:services.judge-service.env.NEW_FLAG: "yes please"',
      ]),
    );
    expect(read(dir)).toBe(
      replaced(
        PROD,
        ["LOG_LEVEL: 'info'", "LOG_LEVEL: 'debug'"],
        ['        FEATURE_X: "on"\n', "        NEW_FLAG: yes please\n"],
        ["{ LOG_LEVEL: warn }", '{ LOG_LEVEL: warn, TIMEOUT: "30" }'],
      ),
    );
  });

  it("removes the last env key of a block map as `env: {}` and of a flow map as `{}`", () => {
    const dev = replaced(
      DEV,
      ['      env:\n        LOG_LEVEL: info\n        FEATURE_X: "on"\n', ""],
      [" env: {LOG_LEVEL: warn}", " env: {}"],
    );
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": PROD });
    expect(run(dir, { write: true }).exitCode).toBe(EXIT.ok);
    expect(read(dir)).toBe(
      replaced(
        PROD,
        [
          "      env:\n        # app settings (promoted)\n        LOG_LEVEL: 'info'\n        FEATURE_X: \"on\"\n",
          "      env: {}\n        # app settings (promoted)\n",
        ],
        ["{ LOG_LEVEL: warn }", "{}"],
      ),
    );
  });

  it("creates env in a service that has none, in the service map's own style", () => {
    const dev = replaced(DEV, [
      `query-storage:1.0.0@${digest("2")}\n`,
      `query-storage:1.0.0@${digest("2")}\n      env: {A: b}\n`,
    ]);
    const prod = replaced(PROD, ["      env:\n          LOG_LEVEL: info\n", ""]);
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": prod });
    const r = run(dir, { write: true });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(read(dir)).toBe(
      replaced(
        prod,
        ["hostPort: false}", "hostPort: false, env: {A: b}}"],
        [
          "      data: {uid: 1000}\n",
          "      data: {uid: 1000}\n      env:\n        LOG_LEVEL: info\n",
        ],
      ),
    );
  });

  it("keeps CRLF line endings, also on inserted lines", () => {
    const crlf = PROD.replace(/\n/g, "\r\n");
    const dev = replaced(DEV, ['FEATURE_X: "on"', 'FEATURE_X: "on"\n        EXTRA: "1"']);
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": crlf });
    expect(run(dir, { write: true }).exitCode).toBe(EXIT.ok);
    expect(read(dir)).toBe(
      replaced(crlf, ['FEATURE_X: "on"\r\n', 'FEATURE_X: "on"\r\n        EXTRA: "1"\r\n']),
    );
  });

  it("--check exits 3 when prod differs and 0 when it matches, writing nothing", () => {
    const same = project({ "Pulumi.dev.yaml": DEV, "Pulumi.prod.yaml": PROD });
    expect(run(same, { check: true }).exitCode).toBe(EXIT.ok);
    const dev = replaced(DEV, [digest("4"), digest("d")]);
    const differs = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": PROD });
    expect(run(differs, { check: true }).exitCode).toBe(EXIT.problem);
    expect(read(differs)).toBe(PROD);
  });

  it("leaves a service only prod has alone and says so", () => {
    const prod = replaced(PROD, [
      "  other:setting: keep-me\n",
      "    metrics:\n      image: grafana/agent:v0.40.0\n      port: 9090\n      healthcheck: {test: [CMD, 'true']}\n  other:setting: keep-me\n",
    ]);
    const dir = project({ "Pulumi.dev.yaml": DEV, "Pulumi.prod.yaml": prod });
    const r = run(dir, { write: true });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(r.stdout).toContain(
      "  left alone panopticon:services.metrics: only Pulumi.prod.yaml has this service",
    );
    expect(read(dir)).toBe(prod);
  });
});

describe("promote refuses, and writes nothing", () => {
  function expectRefused(dir: string, code: number, ...messages: string[]) {
    const before = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, read(dir, f)]));
    const r = run(dir, { write: true });
    expect(r.exitCode).toBe(code);
    expect(r.written).toBe(false);
    const err = r.stderr.join("\n");
    for (const m of messages) expect(err).toContain(m);
    expect(r.stderr[r.stderr.length - 1]).toBe("nothing was written");
    expect(Object.fromEntries(fs.readdirSync(dir).map((f) => [f, read(dir, f)]))).toEqual(before);
  }

  it("a tag-only image (the pinned one goes through, see above)", () => {
    const dev = replaced(DEV, [`judge-service:1.1.0@${digest("1")}`, "judge-service:1.2.0"]);
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": PROD });
    expectRefused(
      dir,
      EXIT.problem,
      'panopticon:services.judge-service.image = "ghcr.io/panopticon-ai/judge-service:1.2.0" in Pulumi.dev.yaml: expected an image pinned by digest',
    );
  });

  it("an unchanged image that is still tag-only (prod must end fully pinned)", () => {
    const tag = "ghcr.io/panopticon-ai/model-registry:1.0.0";
    const dev = replaced(DEV, [`${tag}@${digest("4")}`, tag]);
    const prod = replaced(PROD, [`${tag}@${digest("4")}`, tag]);
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": prod });
    expectRefused(dir, EXIT.problem, "panopticon:services.model-registry.image");
  });

  it("a tag-only postgres image when the target runs the postgres container", () => {
    // A second local stack runs postgres itself: its image must be pinned too.
    const staging = DEV.replace(digest("1"), digest("5"));
    const dir = project({ "Pulumi.dev.yaml": DEV, "Pulumi.staging.yaml": staging });
    const r = promote({ from: "dev", to: "staging", dir, write: true });
    expect(r.exitCode).toBe(EXIT.problem);
    expect(r.stderr.join("\n")).toContain(
      'panopticon:services.postgres.image = "postgres:16.4-bookworm" in Pulumi.dev.yaml',
    );
    expect(read(dir, "Pulumi.staging.yaml")).toBe(staging);
    // Pinned, the same promotion goes through.
    const pinned = DEV.replace("postgres:16.4-bookworm", `postgres:16.4-bookworm@${digest("e")}`);
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), pinned);
    expect(promote({ from: "dev", to: "staging", dir, write: true }).exitCode).toBe(EXIT.ok);
    expect(read(dir, "Pulumi.staging.yaml")).toBe(
      replaced(
        staging,
        ["postgres:16.4-bookworm #", `postgres:16.4-bookworm@${digest("e")} #`],
        [digest("5"), digest("1")],
      ),
    );
  });

  it("a missing source file", () => {
    const dir = project({ "Pulumi.prod.yaml": PROD });
    expectRefused(
      dir,
      EXIT.usage,
      '--from = "dev": expected a stack file',
      "Pulumi.dev.yaml (not found",
    );
  });

  it("a source file that is not YAML", () => {
    const dir = project({ "Pulumi.dev.yaml": "config:\n  a: [1, 2\n", "Pulumi.prod.yaml": PROD });
    expectRefused(dir, EXIT.usage, "Pulumi.dev.yaml is not valid YAML");
  });

  it("a source file that fails the settings schema", () => {
    const dev = replaced(DEV, ["panopticon:storageMode: volume", "panopticon:storageMode: nfs"]);
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": PROD });
    expectRefused(dir, EXIT.usage, 'panopticon:storageMode = "nfs": expected "volume" or "bind"');
  });

  it("the same stack on both sides", () => {
    const dir = project({ "Pulumi.dev.yaml": DEV });
    const r = promote({ from: "dev", to: "dev", dir, write: true });
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr[0]).toContain("expected two different stacks");
    expect(read(dir, "Pulumi.dev.yaml")).toBe(DEV);
  });

  it("two stack names that are one file (symlink)", () => {
    const dir = project({ "Pulumi.dev.yaml": DEV });
    fs.symlinkSync(path.join(dir, "Pulumi.dev.yaml"), path.join(dir, "Pulumi.prod.yaml"));
    expectRefused(dir, EXIT.usage, "are the same file");
  });

  it("a stack name that is a path, or starts with a dot (the data tools' rule: stack-file.test.ts)", () => {
    const dir = project({ "Pulumi.dev.yaml": DEV, "Pulumi.prod.yaml": PROD });
    const r = promote({ from: "../dev", to: "prod", dir, write: true });
    expect(r.exitCode).toBe(EXIT.usage);
    expect(r.stderr[0]).toBe(
      'promote: error: --from = "../dev": expected a Pulumi stack name (letters, digits, _ . -)',
    );
    fs.writeFileSync(path.join(dir, "Pulumi..prod.yaml"), PROD);
    const dot = promote({ from: "dev", to: ".prod", dir, write: true });
    expect(dot.exitCode).toBe(EXIT.usage);
    expect(dot.stderr[0]).toContain(
      '--to = ".prod": expected a Pulumi stack name (letters, digits, _ . -) starting with a letter or digit',
    );
    expect(read(dir, "Pulumi..prod.yaml")).toBe(PROD);
  });

  it("an edit that would change an environment-only key (a YAML anchor shared with initImage)", () => {
    // Same file without the anchor: the promotion is allowed (see the digest test above).
    const prod = replaced(
      PROD,
      [
        'image: "ghcr.io/panopticon-ai/judge-service',
        'image: &judge "ghcr.io/panopticon-ai/judge-service',
      ],
      ["  other:setting: keep-me\n", "  other:setting: keep-me\n  panopticon:initImage: *judge\n"],
    );
    const dev = replaced(DEV, [digest("1"), digest("a")]);
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": prod });
    expectRefused(
      dir,
      EXIT.problem,
      "would change environment-only settings of Pulumi.prod.yaml",
      "config.panopticon:initImage:",
    );
  });

  it("an edit whose YAML anchor would drag another service's promoted value along", () => {
    // Without the anchor the same change goes through (see the env test above).
    const prod = replaced(
      PROD,
      ["LOG_LEVEL: 'info'", "LOG_LEVEL: &level 'info'"],
      ["          LOG_LEVEL: info\n", "          LOG_LEVEL: *level\n"],
    );
    const dev = replaced(DEV, [
      "        LOG_LEVEL: info\n        FEATURE_X",
      "        LOG_LEVEL: debug\n        FEATURE_X",
    ]);
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": prod });
    expectRefused(
      dir,
      EXIT.problem,
      "did not produce the promoted values",
      'panopticon:services.model-registry.env = {"LOG_LEVEL":"debug"}, expected {"LOG_LEVEL":"info"}',
    );
  });

  it("a change for a service whose block prod lacks (adding a block is an environment change)", () => {
    // The release's compose services get their block from the release; a service only
    // dev's file defines (its own port and healthcheck, not in compose) is the case.
    const dev = released(
      `${DEV_FILE}    notes:\n      image: ghcr.io/panopticon-ai/notes:1.0.0@${digest("4")}\n      port: 8000\n      healthcheck: {test: [CMD, "true"]}\n`,
    );
    const dir = project({ "Pulumi.dev.yaml": dev, "Pulumi.prod.yaml": PROD });
    expectRefused(
      dir,
      EXIT.problem,
      "panopticon:services.notes: Pulumi.prod.yaml has no block for this service",
      'add "notes:"',
    );
  });

  it("a target file that is invalid before the edit", () => {
    const prod = replaced(PROD, ["instanceType: t3.large", "instanceType: big"]);
    const dir = project({ "Pulumi.dev.yaml": DEV, "Pulumi.prod.yaml": prod });
    expectRefused(dir, EXIT.usage, "panopticon:aws.instanceType");
  });

  it("a file changed by someone else between read and write", () => {
    const dir = project({ "Pulumi.prod.yaml": PROD });
    const file = path.join(dir, "Pulumi.prod.yaml");
    expect(() => writeAtomically(file, "new", "what we read earlier")).toThrow(
      /changed while promote was running/,
    );
    expect(read(dir)).toBe(PROD);
    expect(fs.readdirSync(dir)).toEqual(["Pulumi.prod.yaml"]);
    writeAtomically(file, "new", PROD);
    expect(read(dir)).toBe("new");
    expect(fs.readdirSync(dir)).toEqual(["Pulumi.prod.yaml"]);
  });
});
