import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { parse } from "yaml";
import { promote } from "../scripts/promote/run";
import { parseOutputs, refusal } from "../scripts/promote/outputs";
import { fixtureCompose } from "../scripts/bench/fixture-checkout";
import { UsageError } from "../scripts/lib/exit-codes";
import { cliStackConfig, PROJECT_DIR, runProgram } from "./support/harness";

/*
 * Promotion of what dev ran: the `images` output of a recorded dev run (the program
 * under mocks, built from the fixture checkout) is pinned into a copy of
 * Pulumi.prod.yaml, with the `release` dev ran (here the compose era's layout, the
 * one the fixture checkout has). Every refusal leaves the file byte-identical.
 */

jest.setTimeout(60_000);

const SOURCE = path.join(__dirname, "fixtures", "panopticon-src");
const REGISTRY = "registry.example:5000/panopticon";
const TSX = path.join(PROJECT_DIR, "node_modules", "tsx", "dist", "cli.mjs");
const RELEASE = {
  source: { commit: "e342b64f692e0a1cd2818fdf3cce71399f00bf37", dirty: false },
  compose: fixtureCompose("compose-era"),
};

let pushed: Record<string, string>;
let local: Record<string, string>;
beforeAll(async () => {
  const dev = cliStackConfig("dev");
  const a = await runProgram({
    stack: "dev",
    config: { ...dev, "panopticon:appSource": SOURCE, "panopticon:registry": REGISTRY },
  });
  if (a.error) throw a.error;
  pushed = a.outputs.images as Record<string, string>;
  const b = await runProgram({ stack: "dev", config: { ...dev, "panopticon:appSource": SOURCE } });
  if (b.error) throw b.error;
  local = b.outputs.images as Record<string, string>;
});

let dir: string;
let prodBefore: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "promote-outputs-"));
  for (const f of ["Pulumi.dev.yaml", "Pulumi.prod.yaml"])
    fs.copyFileSync(path.join(PROJECT_DIR, f), path.join(dir, f));
  prodBefore = fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const prod = () => fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");
/** A saved `pulumi stack output --json` of dev: its images and its release. */
function saved(images: Record<string, string>, release: unknown = RELEASE): string {
  const f = path.join(dir, "dev-outputs.json");
  fs.writeFileSync(f, JSON.stringify({ images, release, endpoints: {} }, null, 2));
  return f;
}

/** The text without the `panopticon:release` block (its key line to the next key at its depth). */
function withoutRelease(text: string): string {
  const lines = text.split("\n");
  const at = lines.indexOf("  panopticon:release:");
  if (at < 0) return text;
  let end = at + 1;
  while (end < lines.length && /^ {3,}\S/.test(lines[end])) end++;
  return [...lines.slice(0, at), ...lines.slice(end)].join("\n");
}
const run = (fromOutputs: string, write = true) =>
  promote({ from: "dev", to: "prod", dir, write, fromOutputs });

/** Lines that differ between two texts of the same line count. */
function changedLines(a: string, b: string): string[] {
  const x = a.split("\n");
  const y = b.split("\n");
  expect(y).toHaveLength(x.length);
  return y.filter((line, i) => line !== x[i]);
}

describe("promotion from recorded dev outputs", () => {
  it("the recorded run pushed every built service and exported repo@sha256 digests", () => {
    expect(Object.keys(pushed).sort()).toEqual(Object.keys(local).sort());
    for (const [svc, ref] of Object.entries(pushed))
      expect(ref).toMatch(new RegExp(`^${REGISTRY}/${svc}@sha256:[0-9a-f]{64}$`));
    for (const ref of Object.values(local)) expect(ref).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("pins exactly dev's digests in Pulumi.prod.yaml; the diff touches only image lines and the release", () => {
    // The repository's prod has no release yet, so it pins nothing: its first promotion
    // only adds lines (a block per service with its image, and the release) after it.
    const r = run(saved(pushed));
    expect([r.exitCode, r.stderr]).toEqual([0, []]);
    const after = prod();
    expect(parse(after).config["panopticon:release"]).toEqual(RELEASE);
    expect(after.startsWith(prodBefore)).toBe(true);
    const added = withoutRelease(after.slice(prodBefore.length)).split("\n").filter(Boolean);
    expect(added.length).toBeGreaterThan(0);
    expect(added[0]).toBe("  panopticon:services:");
    for (const line of added.slice(1)) {
      expect(line).toMatch(/^ {4}[a-z][a-z-]*:$|^ {6}image: \S+@sha256:[0-9a-f]{64}$/);
    }
    const promoted = Object.entries(pushed).filter(([svc]) => svc !== "postgres");
    for (const [, ref] of promoted) expect(after).toContain(`image: ${ref}\n`);
    expect(r.stdout.join("\n")).toMatch(/skipped panopticon:services\.postgres: kind postgres/);
    // Promoting the same outputs again changes nothing.
    expect(run(saved(pushed)).stdout.join("\n")).toMatch(/nothing to promote/);
    // The next build of dev: only image lines change, and the release stays as it was.
    const next = Object.fromEntries(
      Object.entries(pushed).map(([svc, ref]) => [svc, ref.replace(/[0-9a-f]{8}$/, "00000000")]),
    );
    const r2 = run(saved(next));
    expect([r2.exitCode, r2.stderr]).toEqual([0, []]);
    const changed = changedLines(after, prod());
    expect(changed).toHaveLength(promoted.length);
    for (const line of changed) expect(line).toMatch(/^\s+image: \S+@sha256:[0-9a-f]{64}$/);
    for (const [svc] of promoted) expect(prod()).toContain(`image: ${next[svc]}\n`);
  });

  it("refuses the images output alone: it says nothing of the release dev ran", () => {
    const f = path.join(dir, "images.json");
    fs.writeFileSync(f, JSON.stringify(pushed));
    const r = run(f);
    expect(r.exitCode).toBe(1);
    expect(r.stderr[0]).toMatch(/have no "release" .* deploy dev with this version of the program/);
    expect(prod()).toBe(prodBefore);
  });

  it("refuses local builds (image ids only one engine has), naming each service", () => {
    const r = run(saved(local));
    expect(r.exitCode).toBe(1);
    const err = r.stderr.join("\n");
    for (const svc of Object.keys(local).filter((s) => s !== "postgres"))
      expect(err).toContain(`panopticon:services.${svc}.image: "${local[svc]}"`);
    expect(err).toMatch(/exists only on the Docker engine that built it \(a local build/);
    expect(err).toMatch(/nothing was written/);
    expect(prod()).toBe(prodBefore);
  });

  it("refuses an image that is only a tag, naming the service; nothing written", () => {
    const r = run(
      saved({
        ...pushed,
        "judge-service": "registry.example:5000/panopticon/judge-service:latest",
      }),
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr.join("\n")).toMatch(
      /panopticon:services\.judge-service\.image: "registry\.example:5000\/panopticon\/judge-service:latest" in .*: is only a tag/,
    );
    expect(prod()).toBe(prodBefore);
  });

  it("refuses outputs that lack a service dev runs", () => {
    const { ["model-registry"]: _gone, ...rest } = pushed;
    const r = run(saved(rest));
    expect(r.exitCode).toBe(1);
    expect(r.stderr.join("\n")).toMatch(/panopticon:services\.model-registry: no image in /);
    expect(prod()).toBe(prodBefore);
  });

  it.each([
    ["not JSON", "{nope", /not JSON/],
    ["an empty map", "{}", /expected a map of service to image reference/],
    [
      "a non-string image",
      '{"main-app": 3}',
      /images\.main-app = 3: expected an image reference string/,
    ],
  ])("refuses an outputs file that is %s (exit 2)", (_what, text, msg) => {
    const f = path.join(dir, "bad.json");
    fs.writeFileSync(f, text);
    const r = run(f);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.join("\n")).toMatch(msg);
    expect(prod()).toBe(prodBefore);
  });

  it("a missing outputs file is a clear argument error", () => {
    const r = run(path.join(dir, "missing.json"));
    expect(r.exitCode).toBe(2);
    expect(r.stderr.join("\n")).toMatch(/--from-outputs .*missing\.json: the file does not exist/);
  });
});

describe("where the outputs come from", () => {
  it("a source stack that builds is read from its deployed outputs (the Pulumi CLI)", () => {
    const asked: unknown[] = [];
    const r = promote({
      from: "dev",
      to: "prod",
      dir,
      readOutputs: (src) => {
        asked.push(src);
        return { images: pushed, release: RELEASE };
      },
    });
    expect(r.exitCode).toBe(0);
    expect(asked).toEqual([{ kind: "stack", stack: "dev", cwd: dir }]);
  });

  it("npm run promote asks `pulumi stack output --stack dev --json`", () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-pulumi-"));
    try {
      const log = path.join(bin, "args");
      fs.writeFileSync(
        path.join(bin, "pulumi"),
        `#!/bin/sh\necho "$@" > ${log}\ncat <<'EOF'\n${JSON.stringify({ images: pushed, release: RELEASE })}\nEOF\n`,
        { mode: 0o755 },
      );
      const r = spawnSync(
        process.execPath,
        [
          TSX,
          path.join(PROJECT_DIR, "scripts", "promote.ts"),
          "--from",
          "dev",
          "--to",
          "prod",
          "--dir",
          dir,
          "--write",
        ],
        { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } },
      );
      expect([r.status, r.stderr]).toEqual([0, ""]);
      expect(fs.readFileSync(log, "utf8").trim()).toBe("stack output --stack dev --json");
      expect(prod()).toContain(`image: ${pushed["query-storage"]}\n`);
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  it("a failing Pulumi CLI is reported with the command, nothing written", () => {
    const r = promote({
      from: "dev",
      to: "prod",
      dir,
      write: true,
      readOutputs: () => {
        throw new UsageError("pulumi stack output --stack dev --json failed: no stack named dev");
      },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr[0]).toMatch(/pulumi stack output --stack dev --json failed/);
    expect(prod()).toBe(prodBefore);
  });
});

describe("refusal and parsing, as pure functions", () => {
  const d = "a".repeat(64);
  it.each([
    [`repo.example/p/svc@sha256:${d}`, undefined],
    [`repo.example/p/svc:1.2@sha256:${d}`, undefined],
    [`sha256:${d}`, /exists only on the Docker engine/],
    ["repo.example/p/svc:1.2", /is only a tag/],
    ["repo.example/p/svc", /is only a tag/],
  ])("%s", (ref, expected) => {
    const why = refusal("svc", ref, "dev", "out.json");
    if (expected === undefined) expect(why).toBeUndefined();
    else expect(why).toMatch(expected);
  });

  it("parseOutputs takes the images and the release out of all outputs", () => {
    expect(parseOutputs(JSON.stringify({ images: { a: "x" }, release: 1, b: 2 }), "f")).toEqual({
      images: { a: "x" },
      release: 1,
    });
    expect(parseOutputs(JSON.stringify({ a: "x" }), "f")).toEqual({ images: { a: "x" } });
  });
});
