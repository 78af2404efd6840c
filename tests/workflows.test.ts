import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";

/*
 * The CI workflows, checked here so that a typo fails `npm test` instead of a
 * run on GitHub: GitHub's own workflow parser validates every file, and the
 * rules of issue 4 (matrix over stacks, policy pack by path, guard, approval
 * for prod) are asserted on the parsed YAML. The guard step's shell is run
 * for real against the guard fixtures.
 */

const ROOT = path.join(__dirname, "..");
const DIR = path.join(ROOT, ".github", "workflows");
const FILES = fs
  .readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const TSX = require.resolve("tsx/cli");
const LINT = path.join(ROOT, "scripts", "guard", "workflow-lint.mts");

type Step = {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  if?: string;
  id?: string;
};
type Job = {
  steps: Step[];
  needs?: string | string[];
  environment?: string | { name: string };
  strategy?: { matrix?: Record<string, unknown> };
  if?: string;
};
type Workflow = {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
  concurrency?: { group: string; "cancel-in-progress"?: boolean };
};

const load = (f: string): Workflow => parse(fs.readFileSync(path.join(DIR, f), "utf8"));
const allSteps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);

function lint(files: string[]): Record<string, string[]> {
  const r = spawnSync(process.execPath, [TSX, LINT, ...files], { cwd: ROOT, encoding: "utf8" });
  if (r.stdout.trim() === "") throw new Error(`workflow-lint printed nothing: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe("GitHub's workflow parser", () => {
  it("finds the three workflows", () => {
    expect(FILES).toEqual(["deploy-dev.yml", "preview.yml", "promote-prod.yml"]);
  });

  it("accepts every workflow without an error", () => {
    const result = lint(FILES.map((f) => path.join(".github", "workflows", f)));
    for (const f of FILES) expect(result[path.join(".github", "workflows", f)]).toEqual([]);
  });

  it("rejects a workflow with a typo (so the check above can fail)", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wf-"));
    try {
      const broken = fs
        .readFileSync(path.join(DIR, "preview.yml"), "utf8")
        .replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest")
        .replace("cancel-in-progress: true", "cancel-in-progress: maybe");
      const file = path.join(tmp, "broken.yml");
      fs.writeFileSync(file, broken);
      const errors = lint([file])[file];
      expect(errors.join("\n")).toMatch(/Unexpected value 'runs_on'/);
      expect(errors.join("\n")).toMatch(/Required property is missing: runs-on/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("pull-request preview workflow", () => {
  const w = load("preview.yml");
  const preview = w.jobs.preview;

  it("runs on pull requests, one run per PR at a time", () => {
    expect(Object.keys(w.on)).toEqual(["pull_request"]);
    expect(w.concurrency?.group).toMatch(/pull_request\.number/);
  });

  it("previews every stack in a matrix, without stopping the others on failure", () => {
    expect(preview.strategy?.matrix?.stack).toEqual(["dev", "prod"]);
    for (const stack of ["dev", "prod"]) {
      expect(fs.existsSync(path.join(ROOT, `Pulumi.${stack}.yaml`))).toBe(true);
    }
  });

  it("previews through pulumi/actions v6 with the policy pack by path and a PR comment", () => {
    const step = preview.steps.find((s) => s.with?.command === "preview")!;
    expect(step.uses).toBe("pulumi/actions@v6");
    expect(step.with).toMatchObject({ policyPacks: "policy", "comment-on-pr": true });
    expect(fs.existsSync(path.join(ROOT, "policy", "PulumiPolicy.yaml"))).toBe(true);
  });

  it("runs the guard on the JSON preview and the event log, and fails on its exit code", () => {
    const json = preview.steps.find((s) => s.id === "json")!.run!;
    expect(json).toMatch(/pulumi preview --stack "\$STACK" --policy-pack policy --json/);
    expect(json).toMatch(/--event-log "\$RUNNER_TEMP\/events-\$STACK\.log"/);
    const guard = preview.steps.find((s) => s.id === "guard")!.run!;
    expect(guard).toMatch(
      /npm run --silent guard -- --preview "\$RUNNER_TEMP\/preview-\$STACK\.json"/,
    );
    expect(guard).toMatch(/--markdown/);
    const fail = preview.steps[preview.steps.length - 1];
    expect(fail.if).toBe("always()");
    expect(fail.env?.GUARD).toBe("${{ steps.guard.outputs.code }}");
    expect(fail.run).toMatch(/if \[ "\$GUARD" != 0 \]; then .* exit 1; fi/);
  });

  it("posts one combined comment after all stacks, even when a stack failed", () => {
    const c = w.jobs.comment;
    expect(c.needs).toBe("preview");
    expect(c.if).toBe("always()");
    const script = String(
      c.steps.find((s) => s.uses?.startsWith("actions/github-script"))!.with!.script,
    );
    expect(script).toMatch(/<!-- panopticon-guard -->/);
    expect(script).toMatch(/updateComment/);
  });
});

describe("deploy and promotion workflows", () => {
  it("push to main: guard then pulumi up for dev", () => {
    const w = load("deploy-dev.yml");
    expect(w.on.push).toEqual({ branches: ["main"] });
    expect(w.concurrency).toEqual({ group: "deploy-dev", "cancel-in-progress": false });
    const steps = allSteps(w);
    const guard = steps.findIndex((s) => /npm run --silent guard/.test(s.run ?? ""));
    const up = steps.findIndex((s) => s.with?.command === "up");
    expect(guard).toBeGreaterThan(-1);
    expect(up).toBeGreaterThan(guard);
    expect(steps[up]).toMatchObject({
      uses: "pulumi/actions@v6",
      with: { "stack-name": "dev", policyPacks: "policy" },
    });
  });

  it("dev: builds from the Panopticon checkout and pushes, then opens the promotion PR", () => {
    const w = load("deploy-dev.yml");
    const steps = w.jobs.up.steps;
    const source = steps.findIndex((s) =>
      /git clone .*rbownes\/Argus \.\.\/Argus/.test(s.run ?? ""),
    );
    const preview = steps.findIndex((s) => /pulumi preview/.test(s.run ?? ""));
    expect(source).toBeGreaterThan(-1);
    expect(source).toBeLessThan(preview);
    expect(steps[source].run).toMatch(
      /pulumi config set panopticon:registry "\$DEV_IMAGE_REGISTRY"/,
    );
    const dev = parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")).config;
    expect(dev["panopticon:appSource"]).toBe("../Argus");

    const pr = w.jobs["promotion-pr"];
    expect(pr.needs).toBe("up");
    const promote = pr.steps.findIndex((s) =>
      /npm run --silent promote -- --from dev --to prod --write/.test(s.run ?? ""),
    );
    const open = pr.steps.findIndex((s) => s.uses === "peter-evans/create-pull-request@v7");
    expect(promote).toBeGreaterThan(-1);
    expect(open).toBeGreaterThan(promote);
    expect(pr.steps[promote].run).toMatch(/set -o pipefail\n/);
    // The PR carries the stack file promotion edited, nothing the runner changed besides.
    expect(pr.steps[open].with).toMatchObject({ "add-paths": "Pulumi.prod.yaml" });
  });

  it("PR previews of dev have the Panopticon checkout dev builds from", () => {
    const steps = load("preview.yml").jobs.preview.steps;
    const clone = steps.findIndex((s) =>
      /git clone .*rbownes\/Argus \.\.\/Argus/.test(s.run ?? ""),
    );
    const preview = steps.findIndex((s) => s.with?.command === "preview");
    expect(clone).toBeGreaterThan(-1);
    expect(clone).toBeLessThan(preview);
    expect(steps[clone].if).toBe("matrix.stack == 'dev'");
  });

  it("prod: refuses, before pulumi up, a stack file that would build instead of running digests", () => {
    const update = load("promote-prod.yml").jobs.update;
    const i = update.steps.findIndex((s) => /panopticon:appSource/.test(s.run ?? ""));
    const up = update.steps.findIndex((s) => s.with?.command === "up");
    expect(i).toBeGreaterThan(-1);
    expect(i).toBeLessThan(up);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wf-prod-"));
    try {
      const prod = fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8");
      const run = (text: string) => {
        fs.writeFileSync(path.join(tmp, "Pulumi.prod.yaml"), text);
        return spawnSync("bash", ["-e", "-c", update.steps[i].run!], {
          cwd: tmp,
          encoding: "utf8",
        });
      };
      expect(run(prod).status).toBe(0);
      const built = run(prod.replace("config:\n", "config:\n  panopticon:appSource: ../Argus\n"));
      expect(built.status).toBe(1);
      expect(built.stdout).toMatch(/prod must run the digests promotion pinned/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("prod: manual only, previewed and guarded, then updated in the protected environment", () => {
    const w = load("promote-prod.yml");
    expect(Object.keys(w.on)).toEqual(["workflow_dispatch"]);
    expect(w.concurrency).toEqual({ group: "deploy-prod", "cancel-in-progress": false });
    expect(w.jobs.preview.environment).toBeUndefined();
    const update = w.jobs.update;
    expect(update.needs).toBe("preview");
    expect(update.environment).toBe("production");
    const guard = update.steps.findIndex((s) => /npm run --silent guard/.test(s.run ?? ""));
    const up = update.steps.findIndex((s) => s.with?.command === "up");
    expect(guard).toBeGreaterThan(-1);
    expect(up).toBeGreaterThan(guard);
    expect(update.steps[up]).toMatchObject({
      uses: "pulumi/actions@v6",
      with: { "stack-name": "prod", policyPacks: "policy" },
    });
  });
});

describe("every workflow", () => {
  const GUARD_FLAGS = new Set(["--preview", "--event-log", "--state", "--markdown", "--allow"]);

  it.each(FILES)("%s: actions pinned to a major version, Pulumi CLI from pulumi/actions", (f) => {
    const steps = allSteps(load(f));
    for (const s of steps.filter((x) => x.uses)) expect(s.uses).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
    expect(steps.some((s) => s.uses === "pulumi/actions@v6" && s.with === undefined)).toBe(true);
  });

  it.each(FILES)("%s: shell steps parse with bash -n and call the guard with real flags", (f) => {
    for (const s of allSteps(load(f)).filter((x) => x.run)) {
      const script = s.run!.replace(/\$\{\{[^}]*\}\}/g, "x");
      const r = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
      expect({ step: s.name ?? s.run!.slice(0, 40), stderr: r.stderr }).toEqual({
        step: s.name ?? s.run!.slice(0, 40),
        stderr: "",
      });
      for (const call of s.run!.match(/npm run --silent guard --[^\n]*(\\\n[^\n]*)*/g) ?? []) {
        for (const flag of call.match(/--[a-z-]+/g) ?? []) {
          if (flag === "--silent") continue;
          expect(GUARD_FLAGS).toContain(flag);
        }
      }
    }
  });

  it.each(FILES)("%s: every job runs npm ci before npm scripts", (f) => {
    for (const job of Object.values(load(f).jobs)) {
      const runs = job.steps.map((s) => s.run ?? "");
      const npm = runs.findIndex((r) => /npm (run|test)/.test(r));
      if (npm >= 0) expect(runs.findIndex((r) => /npm ci/.test(r))).toBeLessThan(npm);
    }
  });
});

describe("the PR guard step, run for real", () => {
  const step = load("preview.yml").jobs.preview.steps.find((s) => s.id === "guard")!;
  const fix = path.join(ROOT, "tests", "fixtures", "guard");

  function runStep(prBody: string) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wf-guard-"));
    const work = path.join(tmp, "work");
    fs.mkdirSync(work);
    fs.copyFileSync(
      path.join(fix, "preview-volume-replaced.json"),
      path.join(tmp, "preview-dev.json"),
    );
    fs.copyFileSync(path.join(fix, "events-volume-replaced.log"), path.join(tmp, "events-dev.log"));
    const out = path.join(tmp, "output");
    const summary = path.join(tmp, "summary");
    // npm run must find package.json: run from the repo, write reports into the temp dir.
    const script = step
      .run!.replace(/guard-report\//g, `${work}/guard-report/`)
      .replace("mkdir -p guard-report", `mkdir -p ${work}/guard-report`);
    execFileSync("bash", ["-e", "-c", script], {
      cwd: ROOT,
      env: {
        ...process.env,
        STACK: "dev",
        RUNNER_TEMP: tmp,
        GITHUB_OUTPUT: out,
        GITHUB_STEP_SUMMARY: summary,
        PR_BODY: prBody,
      },
      stdio: "pipe",
    });
    const result = {
      output: fs.readFileSync(out, "utf8"),
      markdown: fs.readFileSync(path.join(work, "guard-report", "dev.md"), "utf8"),
      code: fs.readFileSync(path.join(work, "guard-report", "dev.code"), "utf8").trim(),
    };
    fs.rmSync(tmp, { recursive: true, force: true });
    return result;
  }

  const VOL = (set: string) =>
    `urn:pulumi:dev::panopticon::panopticon:index:Panopticon$panopticon:storage:DataVolume$docker:index/volume:Volume::panopticon-${set}-volume`;

  it("reports the replaced volumes and records exit code 1", () => {
    const r = runStep("Moves the volumes.\n");
    expect(r.output).toBe("code=1\n");
    expect(r.code).toBe("1");
    expect(r.markdown).toMatch(/panopticon-postgres-volume/);
    expect(r.markdown).toMatch(/panopticon-query-volume/);
  });

  it("accepts the risks named by guard-allow lines in the PR description", () => {
    const body = `Moves the volumes.\r\n\r\nguard-allow: ${VOL("postgres")}\r\nguard-allow: ${VOL("query")}\r\n`;
    const r = runStep(body);
    expect(r.output).toBe("code=0\n");
    expect(r.markdown).toMatch(/2 accepted with --allow/);
  });
});
