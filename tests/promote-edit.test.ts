import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import fc from "fast-check";
import { parseDocument } from "yaml";
import { environmentChanges } from "../scripts/promote/invariant";
import { planPromotion, StackView } from "../scripts/promote/plan";
import { DIGEST, isPromotablePath } from "../scripts/promote/promotable";
import { promote } from "../scripts/promote/run";
import { applyChanges, applySplices, EditError, renderScalar } from "../scripts/promote/yaml-edit";

// Both stacks hold the compose era's release (no checkout); the source pins every image.
const FIXTURES = path.join(__dirname, "fixtures", "promote");
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");
const RELEASE = fixture("release.yaml").replace(/^(#.*\n)+/, "");
const DEV = fixture("dev.yaml") + RELEASE;
const PROD = fixture("prod.yaml") + RELEASE;
const pinned = (name: string, c: string) => `ghcr.io/panopticon-ai/${name}@sha256:${c.repeat(64)}`;

function view(stack: string, text: string): StackView {
  const data = parseDocument(text).toJS() as { config?: Record<string, unknown> };
  return { stack, fileName: `Pulumi.${stack}.yaml`, config: data.config ?? {} };
}

describe("the promotable set", () => {
  it("accepts service image and env paths only", () => {
    const svc = ["config", "panopticon:services", "judge-service"];
    expect(isPromotablePath([...svc, "image"])).toBe(true);
    expect(isPromotablePath([...svc, "env"])).toBe(true);
    expect(isPromotablePath([...svc, "env", "LOG_LEVEL"])).toBe(true);
    for (const bad of [
      [...svc, "port"],
      [...svc, "kind"],
      [...svc, "hostPort"],
      [...svc, "data", "uid"],
      [...svc, "healthcheck", "0"],
      [...svc, "image", "x"],
      [...svc, "env", "TOKEN", "secure"],
      ["config", "panopticon:storageMode"],
      ["config", "panopticon:initImage"],
      ["config", "panopticon:aws", "region"],
      ["config", "panopticon:postgresPassword", "secure"],
      ["config", "aws:region"],
      ["config", "other:services", "judge-service", "image"],
      ["encryptionsalt"],
    ]) {
      expect([bad, isPromotablePath(bad)]).toEqual([bad, false]);
    }
  });

  it("pins by digest: 64 lower-case hex digits after @sha256:", () => {
    expect(DIGEST.test(pinned("judge-service:1.0.0", "a"))).toBe(true);
    expect(DIGEST.test("ghcr.io/panopticon-ai/judge-service:1.0.0")).toBe(false);
    expect(DIGEST.test(`ghcr.io/x@sha256:${"A".repeat(64)}`)).toBe(false);
    expect(DIGEST.test(`ghcr.io/x@sha256:${"a".repeat(63)}`)).toBe(false);
  });
});

describe("environmentChanges (the hard invariant)", () => {
  const before = parseDocument(PROD).toJS();
  const edit = (from: string, to: string) => parseDocument(PROD.replace(from, to)).toJS();

  it("lets image and env changes through", () => {
    const after = parseDocument(
      PROD.replace("LOG_LEVEL: 'info'", "LOG_LEVEL: debug").replace(
        `sha256:${"1".repeat(64)}`,
        `sha256:${"9".repeat(64)}`,
      ),
    ).toJS();
    expect(environmentChanges(before, after)).toEqual([]);
  });

  it.each([
    [
      "panopticon:environment: aws",
      "panopticon:environment: local",
      "config.panopticon:environment",
    ],
    ["instanceType: t3.large", "instanceType: t3.xlarge", "config.panopticon:aws.instanceType"],
    ["aws:region: eu-west-1", "aws:region: us-east-1", "config.aws:region"],
    [
      "secure: AAABAKprodonlysecretvalue",
      "secure: AAABAKother",
      "config.panopticon:postgresPassword.secure",
    ],
    ["hostPort: false}", "hostPort: 8002}", "config.panopticon:services.query-storage.hostPort"],
    ["data: {uid: 1000}", "data: {uid: 0}", "config.panopticon:services.model-registry.data.uid"],
    ["encryptionsalt: v1", "encryptionsalt: v2", "encryptionsalt"],
    ["other:setting: keep-me", "other:setting: changed", "config.other:setting"],
    [
      "  other:setting",
      "    metrics: {image: x}\n  other:setting",
      "config.panopticon:services.metrics: block added",
    ],
  ])("refuses %s -> %s", (from, to, reported) => {
    const problems = environmentChanges(before, edit(from, to));
    expect(problems.join("\n")).toContain(reported);
  });
});

describe("planPromotion", () => {
  it("skips postgres for an aws target and says why; promotes it between local stacks", () => {
    const aws = planPromotion(view("dev", DEV), view("prod", PROD));
    expect(aws.skipped).toEqual([
      { service: "postgres", reason: expect.stringContaining("prod is environment aws") },
    ]);
    expect(aws.problems).toEqual([]);
    const local = planPromotion(view("dev", DEV), view("staging", DEV));
    expect(local.skipped).toEqual([]);
    expect(local.problems.join("\n")).toContain("panopticon:services.postgres.image");
  });

  it("refuses a release service the source leaves without an image (there is no built-in one)", () => {
    // Compose builds every image, postgres's too, and publishes none: a source without
    // a checkout that sets no image for a service has nothing a target could run, and
    // the local target runs the postgres container, so its own image cannot stand in.
    const dev = DEV.replace(/ {4}postgres:\n {6}image: .*\n/, "");
    expect(dev).not.toContain("postgres:16.4");
    const plan = planPromotion(view("dev", dev), view("staging", DEV));
    expect(plan.problems.join("\n")).toContain(
      "panopticon:services.postgres.image = (missing) in Pulumi.dev.yaml: there is no built-in image",
    );
    expect(plan.expected.has("postgres")).toBe(false);
  });
});

describe("applyChanges (layout)", () => {
  const doc = (text: string) => parseDocument(text);

  it("renders a changed block scalar as a double-quoted string, keeping the line break", () => {
    const text =
      "config:\n  panopticon:services:\n    a:\n      env:\n        X: |\n          one\n        Y: z\n";
    const out = applyChanges(text, doc(text), [
      { op: "~", service: "a", field: "env", envKey: "X", from: "one\n", to: "two\nlines" },
    ]);
    expect(out).toBe(
      'config:\n  panopticon:services:\n    a:\n      env:\n        X: "two\\nlines"\n        Y: z\n',
    );
  });

  it("quotes new keys and values that plain YAML would read as something else", () => {
    const text = "config:\n  panopticon:services:\n    a:\n      env:\n        K: v\n";
    const out = applyChanges(text, doc(text), [
      { op: "+", service: "a", field: "env", envKey: "true", to: "a: b #c" },
      { op: "+", service: "a", field: "env", envKey: "N", to: "007" },
    ]);
    expect(out).toBe(text + '        "true": "a: b #c"\n        N: "007"\n');
    expect(parseDocument(out).toJS().config["panopticon:services"].a.env).toEqual({
      K: "v",
      true: "a: b #c",
      N: "007",
    });
  });

  it("appends to a file that does not end in a line break", () => {
    const text = "config:\n  panopticon:services:\n    a:\n      env:\n        K: v";
    const out = applyChanges(text, doc(text), [
      { op: "+", service: "a", field: "env", envKey: "L", to: "w" },
    ]);
    expect(out).toBe(text + "\n        L: w\n");
  });

  it("refuses layouts it cannot edit in place instead of guessing", () => {
    const text = "config:\n  panopticon:services:\n    a:\n      env: *shared\n";
    expect(() =>
      applyChanges(text, doc(text), [
        { op: "+", service: "a", field: "env", envKey: "L", to: "w" },
      ]),
    ).toThrow(EditError);
    expect(() =>
      applySplices("abc", [
        { start: 0, end: 2, text: "x" },
        { start: 1, end: 3, text: "y" },
      ]),
    ).toThrow(/overlapping/);
  });

  it("renderScalar keeps the style when it can", () => {
    expect(renderScalar("it's", "QUOTE_SINGLE", false)).toBe("'it''s'");
    expect(renderScalar("plain", "PLAIN", false)).toBe("plain");
    expect(renderScalar("a, b", "PLAIN", true)).toBe('"a, b"');
    expect(renderScalar("a, b", "PLAIN", false)).toBe("a, b");
    expect(renderScalar("x", "QUOTE_DOUBLE", false)).toBe('"x"');
  });
});

describe("properties", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "promote-prop-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const hex64 = fc.stringMatching(/^[a-f0-9]{64}$/);
  // Any text a stack file can hold as a double-quoted value.
  const envValue = fc
    .string({ unit: "grapheme", maxLength: 20 })
    .filter((v) => parseDocument(`k: ${JSON.stringify(v)}`).errors.length === 0);

  it("a digest change alters exactly that digest, whatever the digests are", () => {
    fc.assert(
      fc.property(hex64, (hex) => {
        const dev = DEV.replace(`sha256:${"2".repeat(64)}`, `sha256:${hex}`);
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), dev);
        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), PROD);
        const r = promote({ from: "dev", to: "prod", dir, write: true });
        expect(r.exitCode).toBe(0);
        const out = fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");
        expect(out).toBe(PROD.replace(`sha256:${"2".repeat(64)}`, `sha256:${hex}`));
      }),
      { numRuns: 25 },
    );
  });

  it("any env keys and values end up in prod exactly, and a second run is a no-op", () => {
    const envKey = fc
      .stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/)
      .filter((k) => !/^(POSTGRES_|DATABASE_URL$|PGPASSWORD$|LOG_LEVEL$|FEATURE_X$)/.test(k));
    fc.assert(
      fc.property(envValue, envKey, envValue, fc.boolean(), (a, key, b, dropX) => {
        const dev = DEV.replace('        FEATURE_X: "on"\n', () =>
          dropX ? "" : `        FEATURE_X: ${JSON.stringify(a)}\n`,
        ).replace(
          "{LOG_LEVEL: warn}",
          () => `{LOG_LEVEL: warn, ${JSON.stringify(key)}: ${JSON.stringify(b)}}`,
        );
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), dev);
        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), PROD);
        const r = promote({ from: "dev", to: "prod", dir, write: true });
        expect([r.exitCode, r.stderr]).toEqual([0, []]);
        const out = fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");
        const services = parseDocument(out).toJS().config["panopticon:services"];
        expect(services["judge-service"].env).toEqual(
          dropX ? { LOG_LEVEL: "info" } : { LOG_LEVEL: "info", FEATURE_X: a },
        );
        expect(services["evaluation-storage"].env).toEqual({ LOG_LEVEL: "warn", [key]: b });
        expect(environmentChanges(parseDocument(PROD).toJS(), parseDocument(out).toJS())).toEqual(
          [],
        );
        const again = promote({ from: "dev", to: "prod", dir, write: true });
        expect(again.written).toBe(false);
        expect(again.stdout[again.stdout.length - 1]).toMatch(/^nothing to promote/);
      }),
      { numRuns: 200 },
    );
  });
});
