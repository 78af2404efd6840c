import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { classifyPreview, classifyState } from "../scripts/guard/classify";
import { parsePreviewText, parseStateExport } from "../scripts/guard/parse";
import { GuardOptions, runGuard } from "../scripts/guard/run";
import { COMMENT_MARKER } from "../scripts/guard/report";
import { parseUrn, StepRecord } from "../scripts/guard/types";

/*
 * The preview guard on fixtures written in Pulumi's own formats
 * (tests/fixtures/guard): `pulumi preview --json` digests, `--event-log`
 * engine events and `pulumi stack export` documents.
 */

const FIX = path.join(__dirname, "fixtures", "guard");
const fx = (name: string) => path.join(FIX, name);

const VOLUME_URN = (stack: string, set: string) =>
  `urn:pulumi:${stack}::panopticon::panopticon:index:Panopticon$panopticon:storage:DataVolume$docker:index/volume:Volume::panopticon-${set}-volume`;
const RDS_URN =
  "urn:pulumi:prod::panopticon::panopticon:index:Panopticon$panopticon:database:RdsPostgres$aws:rds/instance:Instance::panopticon-db";
const KMS_URN =
  "urn:pulumi:prod::panopticon::panopticon:index:Panopticon$aws:kms/key:Key::panopticon-data-key";

/** The guard's options as `npm run guard -- <args>` would parse them (flags listed below only). */
function guard(...args: string[]) {
  const o: {
    preview?: string[];
    eventLog?: string[];
    state?: string;
    markdown?: boolean;
    allow?: string[];
  } = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--preview") (o.preview ??= []).push(args[++i]);
    else if (a === "--event-log") (o.eventLog ??= []).push(args[++i]);
    else if (a === "--allow") (o.allow ??= []).push(args[++i]);
    else if (a === "--state") o.state = args[++i];
    else if (a === "--markdown") o.markdown = true;
    else throw new Error(`test helper: unknown flag ${a}`);
  }
  return runGuard(o as GuardOptions);
}

function verdictsOf(...args: string[]) {
  const input = args.map((f) => parsePreviewText(fs.readFileSync(fx(f), "utf8"), f));
  return classifyPreview({
    steps: input.flatMap((i) => i.steps),
    errors: input.flatMap((i) => i.errors),
    policyViolations: input.flatMap((i) => i.policyViolations),
    sources: args,
  });
}

describe("npm run guard (the issue's acceptance cases, as a real process)", () => {
  const tsx = require.resolve("tsx/cli");
  const run = (...args: string[]) => {
    try {
      const stdout = execFileSync(process.execPath, [tsx, "scripts/guard.ts", ...args], {
        cwd: path.join(__dirname, ".."),
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      return { code: 0, stdout };
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      return { code: err.status, stdout: err.stdout, stderr: err.stderr };
    }
  };

  it("a replaced Docker volume is data at risk: exit 1", () => {
    const r = run("--preview", fx("preview-volume-replaced.json"));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/AT RISK\s+replaced\s+Docker volume "panopticon-postgres-volume"/);
  });

  it("a deleted, unretained RDS instance is data at risk: exit 1", () => {
    const r = run("--preview", fx("preview-rds-deleted.json"));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/AT RISK\s+deleted and destroyed\s+RDS instance "panopticon-db"/);
  });

  it("a deleted, retained volume is safe: exit 0", () => {
    const r = run("--preview", fx("preview-volume-deleted-retained.json"));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /safe\s+deleted but retained\s+Docker volume "panopticon-judge-volume"/,
    );
    expect(r.stdout).toMatch(/Verdict: no data at risk\./);
  });

  it("parses repeated --preview/--allow and --markdown like the library call", () => {
    const r = run(
      "--preview",
      fx("preview-old-cli-delete.json"),
      "--preview",
      fx("events-old-cli-delete.log"),
      "--allow",
      RDS_URN,
      "--allow",
      KMS_URN,
      "--markdown",
    );
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith(COMMENT_MARKER)).toBe(true);
    expect(r.stdout).toMatch(/deleted but retained/);
  });

  it("an unknown option or a stray argument is bad input: exit 2", () => {
    expect(run("--frobnicate").code).toBe(2);
    expect(run("--preview", fx("preview-empty.json"), "extra").code).toBe(2);
  });

  it("unreadable input: exit 2, an error and no verdict", () => {
    const r = run("--preview", fx("malformed-truncated.json"));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/malformed-truncated\.json is not valid JSON/);
  });
});

describe("classification of preview steps", () => {
  it("replace sequence (create-replacement, replace, delete-replaced) is one 'replaced' verdict", () => {
    const r = verdictsOf("preview-volume-replaced.json");
    expect(r.verdicts).toHaveLength(1);
    expect(r.verdicts[0]).toMatchObject({
      urn: VOLUME_URN("dev", "postgres"),
      classification: "replaced",
      atRisk: true,
      stack: "dev",
    });
    expect(r.verdicts[0].detail).toMatch(/because `name` changed; the old copy is deleted/);
    // The container replaced alongside is stateless: counted, not judged.
    expect(r.otherChanges).toEqual({ dev: { replaced: 1 } });
  });

  it("a replace stays at risk when the old copy is retained: the new volume starts empty", () => {
    const r = verdictsOf("events-volume-replaced.log");
    expect(r.verdicts[0].classification).toBe("replaced");
    expect(r.verdicts[0].atRisk).toBe(true);
    expect(r.verdicts[0].detail).toMatch(
      /old copy is retained \(retainOnDelete\) but the new one starts empty/,
    );
  });

  it("delete-before-replace after protect was removed in the same change is at risk", () => {
    const r = verdictsOf("preview-unprotect-and-replace.json");
    expect(r.verdicts[0]).toMatchObject({ urn: RDS_URN, classification: "replaced", atRisk: true });
    expect(r.verdicts[0].detail).toMatch(/deleted before the replacement exists/);
  });

  it("protected resources: refusals are 'blocked by protect', explained, and not at risk", () => {
    const r = verdictsOf("preview-protected.json");
    const byUrn = Object.fromEntries(r.verdicts.map((v) => [v.urn, v]));
    // Replace refused before any step was planned: known only from the diagnostic.
    expect(byUrn[RDS_URN]).toMatchObject({ classification: "blocked-by-protect", atRisk: false });
    // Delete planned with the protected old state, then refused.
    expect(byUrn[KMS_URN]).toMatchObject({ classification: "blocked-by-protect", atRisk: false });
    expect(r.incomplete).toEqual([]);
    expect(guard("--preview", fx("preview-protected.json")).exitCode).toBe(0);
  });

  it("an older CLI's preview JSON omits retainOnDelete: conservatively at risk until the event log confirms it", () => {
    expect(verdictsOf("preview-old-cli-delete.json").verdicts[0]).toMatchObject({
      classification: "deleted-destroyed",
      atRisk: true,
    });
    const both = guard(
      "--preview",
      fx("preview-old-cli-delete.json"),
      "--event-log",
      fx("events-old-cli-delete.log"),
    );
    expect(both.exitCode).toBe(0);
    expect(both.stdout).toMatch(/deleted but retained/);
    // Autodetection: the log also works through --preview.
    expect(
      guard(
        "--preview",
        fx("preview-old-cli-delete.json"),
        "--preview",
        fx("events-old-cli-delete.log"),
      ).exitCode,
    ).toBe(0);
  });

  it("an empty preview touches no stateful resource: exit 0", () => {
    const r = guard("--preview", fx("preview-empty.json"));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/No stateful resource is touched by this preview/);
    expect(guard("--preview", writeTemp("{}\n")).exitCode).toBe(0);
  });

  it("a preview that failed for another reason cannot vouch for safety: exit 1, marked incomplete", () => {
    const r = guard("--preview", fx("preview-failed.json"));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/INCOMPLETE: .*storageMode = "nfs"/s);
    expect(r.stdout).toMatch(/cannot confirm that no data is at risk/);
  });

  it("policy violations from the event log appear in the report", () => {
    const r = guard("--event-log", fx("events-volume-replaced.log"), "--markdown");
    expect(r.stdout).toMatch(/`panopticon-data-safety\/local-ports-loopback` \(mandatory\)/);
  });

  const step = (op: string, old?: StepRecord["old"], neu?: StepRecord["new"]): StepRecord => ({
    op,
    urn: VOLUME_URN("dev", "x"),
    type: "docker:index/volume:Volume",
    old,
    new: neu,
    replaceReasons: [],
    source: "t",
  });
  const one = (...steps: StepRecord[]) =>
    classifyPreview({ steps, errors: [], policyViolations: [], sources: ["t"] }).verdicts[0];

  it.each([
    ["same", { retainOnDelete: true }, "kept", false],
    ["update", {}, "updated", false],
    ["create", undefined, "created", false],
    ["import", undefined, "created", false],
    ["read", {}, "kept", false],
    ["refresh", {}, "kept", false],
    ["discard", {}, "deleted-retained", false],
    ["delete", { protect: true }, "blocked-by-protect", false],
    ["delete", { retainOnDelete: true }, "deleted-retained", false],
    ["delete", {}, "deleted-destroyed", true],
    ["delete", undefined, "unknown", true],
    ["import-replacement", {}, "replaced", true],
    ["frobnicate", {}, "unknown", true],
  ] as const)("op %s with old state %j is %s (at risk: %s)", (op, old, cls, risk) => {
    const v = one(step(op, old));
    expect(v.classification).toBe(cls);
    expect(v.atRisk).toBe(risk);
  });

  it("a replace is blocked only while protected in the state and the program", () => {
    expect(
      one(
        step("replace", { protect: true }, { protect: true }),
        step("delete-replaced", { protect: true }),
      ).classification,
    ).toBe("blocked-by-protect");
    expect(
      one(
        step("replace", { protect: true }, { protect: false }),
        step("delete-replaced", { protect: true }),
      ).classification,
    ).toBe("replaced");
  });

  it("containers and RDS clusters are not stateful and get no verdict", () => {
    const r = classifyPreview({
      steps: [
        {
          ...step("delete", {}),
          urn: "urn:pulumi:dev::panopticon::docker:index/container:Container::c",
          type: "docker:index/container:Container",
        },
        {
          ...step("delete", {}),
          urn: "urn:pulumi:prod::panopticon::aws:rds/cluster:Cluster::c",
          type: "aws:rds/cluster:Cluster",
        },
      ],
      errors: [],
      policyViolations: [],
      sources: [],
    });
    expect(r.verdicts).toEqual([]);
    expect(r.otherChanges).toEqual({ dev: { deleted: 1 }, prod: { deleted: 1 } });
  });
});

describe("--allow", () => {
  it("accepts a named risk deliberately: exit 0, shown as accepted", () => {
    const r = guard("--preview", fx("preview-rds-deleted.json"), "--allow", RDS_URN);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/accepted deleted and destroyed/);
    expect(r.stdout).toMatch(/1 accepted with --allow/);
  });

  it("is repeatable and accepts only what it names", () => {
    const r = guard(
      "--preview",
      fx("preview-rds-deleted.json"),
      "--allow",
      VOLUME_URN("dev", "postgres"),
      "--allow",
      KMS_URN,
    );
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /note: --allow .*panopticon-postgres-volume matched no resource at risk/,
    );
  });

  it("rejects something that is not a URN: exit 2", () => {
    const r = guard("--preview", fx("preview-rds-deleted.json"), "--allow", "panopticon-db");
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--allow "panopticon-db": expected a full URN/);
    expect(r.stdout).toBe("");
  });
});

describe("--state (what pulumi destroy would do)", () => {
  it("dev: retained volumes are safe", () => {
    const r = guard("--state", fx("state-dev.json"));
    expect(r.exitCode).toBe(0);
    expect(r.stdout.match(/deleted but retained/g)).toHaveLength(2);
    // The container in the export is stateless and not listed.
    expect(r.stdout).not.toMatch(/Container/);
  });

  it("a volume without retainOnDelete (omitted because false) would be destroyed: exit 1", () => {
    const r = guard("--state", fx("state-dev-unretained.json"));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /AT RISK\s+deleted and destroyed\s+Docker volume "panopticon-model-registry-volume"/,
    );
  });

  it("prod: protected resources block destroy; external ones are left alone", () => {
    const s = parseStateExport(fs.readFileSync(fx("state-prod.json"), "utf8"), "state-prod.json");
    const r = classifyState(s);
    const cls = Object.fromEntries(r.verdicts.map((v) => [v.name, v.classification]));
    expect(cls).toEqual({
      "panopticon-data-key": "blocked-by-protect",
      "panopticon-db": "blocked-by-protect",
      "panopticon-model-registry-volume": "blocked-by-protect",
      "legacy-db": "kept",
    });
    expect(guard("--state", fx("state-prod.json")).exitCode).toBe(0);
  });

  it("ECR repositories count as stateful: unprotected and unretained, a destroy deletes them", () => {
    const doc = JSON.parse(fs.readFileSync(fx("state-prod.json"), "utf8"));
    const key = doc.deployment.resources.find(
      (r: { type: string }) => r.type === "aws:kms/key:Key",
    );
    const repo = (name: string, protect: boolean) => ({
      ...key,
      urn: `urn:pulumi:prod::panopticon::panopticon:aws:ImageRepositories$aws:ecr/repository:Repository::${name}`,
      type: "aws:ecr/repository:Repository",
      id: name,
      protect,
      retainOnDelete: undefined,
    });
    doc.deployment.resources.push(repo("repo-kept", true), repo("repo-lost", false));
    const s = parseStateExport(JSON.stringify(doc), "state-ecr.json");
    const cls = Object.fromEntries(
      classifyState(s).verdicts.map((v) => [v.name, v.classification]),
    );
    expect(cls["repo-kept"]).toBe("blocked-by-protect");
    expect(cls["repo-lost"]).toBe("deleted-destroyed");
  });

  it("pending operations make the state incomplete", () => {
    const doc = JSON.parse(fs.readFileSync(fx("state-dev.json"), "utf8"));
    doc.deployment.pending_operations = [
      { resource: doc.deployment.resources[2], type: "deleting" },
    ];
    const r = guard("--state", writeTemp(JSON.stringify(doc)));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/1 pending operation/);
  });
});

describe("--markdown", () => {
  it("prints a PR comment with a table per stack and a marker to update it in place", () => {
    const r = guard("--preview", fx("preview-volume-replaced.json"), "--markdown");
    expect(r.stdout.startsWith(COMMENT_MARKER)).toBe(true);
    expect(r.stdout).toMatch(/#### Stack `dev`/);
    expect(r.stdout).toMatch(
      /\| :x: \*\*at risk\*\* \| replaced \| Docker volume `panopticon-postgres-volume` \|/,
    );
    expect(r.stdout).toMatch(/--allow <URN>/);
  });

  it("reports safe stacks too", () => {
    const r = guard("--state", fx("state-prod.json"), "--markdown");
    expect(r.stdout).toMatch(/:white_check_mark: Data safety: no data at risk/);
    expect(r.stdout).toMatch(/#### Stack `prod`/);
  });
});

describe("bad input: exit 2, a clear error, no verdict", () => {
  it.each([
    [
      "malformed-empty.json",
      /malformed-empty\.json is empty: expected the output of `pulumi preview --json`/,
    ],
    ["malformed-text-output.txt", /line 1 is not JSON .*expected `pulumi preview --json` output/],
    ["malformed-truncated.json", /is not valid JSON .*truncated\?/],
    ["malformed-missing-op.json", /steps\[1\]\.op = \(missing\): expected a step operation/],
    ["state-dev.json", /without any of steps, .*expected the output of `pulumi preview --json`/],
  ])("--preview %s", (file, message) => {
    const r = guard("--preview", fx(file));
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/Verdict/);
  });

  it.each([
    ["malformed-state-version.json", /version = 7: expected 3/],
    ["preview-empty.json", /version = \(missing\): expected 3/],
    ["nope.json", /--state ".*nope\.json": cannot read the file \(ENOENT\)/],
  ])("--state %s", (file, message) => {
    const r = guard("--state", fx(file));
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
  });

  it("wrong field types name the field and the value", () => {
    const doc = JSON.parse(fs.readFileSync(fx("preview-rds-deleted.json"), "utf8"));
    doc.steps[1].oldState.retainOnDelete = "yes";
    const r = guard("--preview", writeTemp(JSON.stringify(doc)));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/steps\[1\]\.old\.retainOnDelete = "yes": expected true or false/);
  });

  it("an event log line that is not an engine event", () => {
    const r = guard(
      "--event-log",
      writeTemp('{"sequence":0,"preludeEvent":{"config":{}}}\n[1,2]\n'),
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/line 2 = \[1,2\]: expected an engine event/);
  });

  it("arguments: none, or both modes", () => {
    expect(guard().stderr).toMatch(/no input: expected --preview FILE/);
    expect(guard().exitCode).toBe(2);
    const both = guard("--preview", fx("preview-empty.json"), "--state", fx("state-dev.json"));
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/--preview and --state were both given/);
  });
});

describe("URN parsing", () => {
  it("takes the stack, the last type of a parent chain and a name that may contain ::", () => {
    expect(parseUrn(VOLUME_URN("dev", "postgres"))).toEqual({
      stack: "dev",
      type: "docker:index/volume:Volume",
      name: "panopticon-postgres-volume",
    });
    expect(parseUrn("urn:pulumi:prod::p::aws:kms/key:Key::a::b")?.name).toBe("a::b");
    expect(parseUrn("panopticon-db")).toBeUndefined();
  });
});

let tmp: string | undefined;
function writeTemp(content: string): string {
  tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), "guard-test-"));
  const file = path.join(tmp, `input-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, content);
  return file;
}
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});
