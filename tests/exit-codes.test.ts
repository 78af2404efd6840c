import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fixtureCompose } from "../scripts/bench/fixture-checkout";
import { EXIT, PULUMI_CLI_MISSING } from "../scripts/lib/exit-codes";
import { POSTGRES_IMAGE } from "./support/app-images";
import { STAND_IN_SOURCE } from "./support/checkouts";
import { cliStackConfig, runProgram } from "./support/harness";
import { previewDigest } from "./support/preview-builder";

/*
 * README's exit-code table, tool by tool, as processes the way `npm run` starts them:
 * 2 for bad arguments or a bad stack file, 3 for what the machine or the stack lacks
 * (no Docker engine, no Pulumi CLI, an AWS stack given to a local tool), 1 for a
 * problem found. The missing engine is a DOCKER_HOST socket that does not exist.
 */

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, "..");
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "exit-codes-"));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));
const NO_ENGINE = { DOCKER_HOST: "unix:///nonexistent.sock" };
const PINNED = `ghcr.io/acme/app:1.0@sha256:${"ab".repeat(32)}`;
const APPS = ["main-app", "query-storage", "evaluation-storage", "judge-service"];

fs.writeFileSync(
  path.join(TMP, "Pulumi.loc.yaml"),
  [
    "config:",
    "  panopticon:environment: local",
    // The fixture checkout gives the layout; every image is pinned, so nothing is built.
    `  panopticon:appSource: ${JSON.stringify(STAND_IN_SOURCE)}`,
    "  panopticon:services:",
    ...["main-app", "query-storage", "evaluation-storage", "judge-service"]
      .concat(["visualization-service", "model-registry"])
      .flatMap((s) => [`    ${s}:`, `      image: ${PINNED}`]),
    "    postgres:",
    `      image: ${POSTGRES_IMAGE}`,
    "",
  ].join("\n"),
);
fs.writeFileSync(
  path.join(TMP, "Pulumi.cloud.yaml"),
  "config:\n  panopticon:environment: aws\n  panopticon:aws:\n    region: eu-west-1\n" +
    fs.readFileSync(path.join(TMP, "Pulumi.loc.yaml"), "utf8").split("\n").slice(2).join("\n"),
);
fs.writeFileSync(path.join(TMP, "Pulumi.broken.yaml"), "config:\n  panopticon:storageMode: nfs\n");
// The project file too: the CLI hands its defaults to every stack (tests/support/harness.ts).
fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(TMP, "Pulumi.yaml"));

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function tool(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ["--import", "tsx", path.join("scripts", script), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    c.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Each data tool with what it needs besides --stack. */
const DATA_TOOLS: Array<[string, string[]]> = [
  ["backup.ts", []],
  ["restore.ts", ["--from", TMP]],
  ["purge.ts", ["--confirm", "loc", "--no-backup"]],
  ["status.ts", []],
  ["doctor.ts", []],
  ["pg-upgrade.ts", ["--to", "15"]],
];

describe.each(DATA_TOOLS)("%s", (script, extra) => {
  it("bad arguments: exit 2", async () => {
    const r = await tool(script, ["--dir", TMP, ...extra]);
    expect(r.code).toBe(EXIT.usage);
  });

  it("a stack file the settings refuse: exit 2, the refusal named", async () => {
    const r = await tool(script, ["--dir", TMP, "--stack", "broken", ...extra]);
    expect(r.stderr).toContain('panopticon:storageMode = "nfs": expected "volume" or "bind"');
    expect(r.code).toBe(EXIT.usage);
  });

  it("no Docker engine: exit 3, saying so in one line", async () => {
    const r = await tool(script, ["--dir", TMP, "--stack", "loc", ...extra], NO_ENGINE);
    const said = r.stderr.split("\n").filter((l) => l.includes("no Docker engine answers"));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/start dockerd .* or set DOCKER_HOST/);
    expect(r.code).toBe(EXIT.environment);
  });

  if (script !== "pg-upgrade.ts") {
    // pg-upgrade on an AWS stack is the RDS path (docs/upgrades.md), not a refusal.
    it("an AWS stack: exit 3, local Docker stacks only", async () => {
      const r = await tool(script, ["--dir", TMP, "--stack", "cloud", ...extra], NO_ENGINE);
      expect(r.stderr).toMatch(/environment "aws": \S+ works on local Docker stacks only/);
      expect(r.code).toBe(EXIT.environment);
    });
  }
});

describe("backup:before-change", () => {
  it("a data-bearing image change and no Docker engine: exit 3, never 'no backup needed'", async () => {
    const base = { ...cliStackConfig("loc", TMP) };
    const before = await runProgram({ stack: "loc", config: base });
    const services = base["panopticon:services"] as Record<string, { image: string }>;
    const after = await runProgram({
      stack: "loc",
      config: {
        ...base,
        "panopticon:services": {
          ...services,
          "query-storage": { image: PINNED.replace("1.0@", "1.1@") },
        },
      },
    });
    if (before.error || after.error) throw before.error ?? after.error;
    const preview = path.join(TMP, "preview.json");
    fs.writeFileSync(preview, previewDigest(before, after));
    const args = ["--dir", TMP, "--stack", "loc", "--preview", preview];
    const r = await tool("pre-change-backup.ts", args, NO_ENGINE);
    expect(r.stderr).toMatch(/query-storage \(data set query\): image/);
    expect(r.stderr).not.toMatch(/no backup needed/);
    expect(r.stderr).toMatch(/no Docker engine answers/);
    expect(r.code).toBe(EXIT.environment);
  });

  it("its compliant twin: a change of a service without data needs no engine: exit 0", async () => {
    const base = { ...cliStackConfig("loc", TMP) };
    const services = base["panopticon:services"] as Record<string, { image: string }>;
    const before = await runProgram({ stack: "loc", config: base });
    const after = await runProgram({
      stack: "loc",
      config: {
        ...base,
        "panopticon:services": {
          ...services,
          "main-app": { image: PINNED.replace("1.0@", "1.1@") },
        },
      },
    });
    const preview = path.join(TMP, "preview-main.json");
    fs.writeFileSync(preview, previewDigest(before, after));
    const args = ["--dir", TMP, "--stack", "loc", "--preview", preview];
    const r = await tool("pre-change-backup.ts", args, NO_ENGINE);
    expect(r.stderr).toMatch(/no data-bearing service of stack loc changes its image/);
    expect(r.code).toBe(EXIT.ok);
  });

  it("bad arguments: exit 2", async () => {
    const r = await tool("pre-change-backup.ts", ["--dir", TMP, "--stack", "loc"]);
    expect(r.code).toBe(EXIT.usage);
  });
});

describe("promote", () => {
  const dir = path.join(TMP, "promote");
  beforeAll(() => {
    fs.mkdirSync(dir);
    for (const s of ["dev", "prod"]) {
      fs.copyFileSync(path.join(ROOT, `Pulumi.${s}.yaml`), path.join(dir, `Pulumi.${s}.yaml`));
    }
  });
  // Only node's own directory on PATH: no pulumi, whatever this machine has installed.
  const noPulumi = { PATH: path.dirname(process.execPath) };

  it("without the Pulumi CLI: one line with deploy.sh's install hint, exit 3", async () => {
    const r = await tool("promote.ts", ["--from", "dev", "--to", "prod", "--dir", dir], noPulumi);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`promote: ${PULUMI_CLI_MISSING}`);
    expect(r.stderr).not.toMatch(/ENOENT|spawnSync/);
    expect(r.code).toBe(EXIT.environment);
    expect(fs.readFileSync(path.join(ROOT, "scripts", "deploy.sh"), "utf8")).toContain(
      PULUMI_CLI_MISSING,
    );
  });

  it("its compliant twin: saved outputs instead of the CLI, exit 0", async () => {
    // All of dev's outputs, as `pulumi stack output --json` saves them: the images and
    // the release they were built from, which gives dev's layout, so dev's checkout
    // (../Argus, absent here) is not needed.
    expect(fs.existsSync(path.join(dir, "..", "Argus"))).toBe(false);
    const outputs = path.join(dir, "outputs.json");
    const images = Object.fromEntries(
      [...APPS, "visualization-service", "model-registry"].map((s) => [
        s,
        `ghcr.io/acme/${s}@sha256:${"cd".repeat(32)}`,
      ]),
    );
    const release = {
      source: { commit: "e342b64f692e0a1cd2818fdf3cce71399f00bf37", dirty: false },
      compose: fixtureCompose("compose-era"),
    };
    fs.writeFileSync(outputs, JSON.stringify({ images, release }));
    const r = await tool(
      "promote.ts",
      ["--from", "dev", "--to", "prod", "--dir", dir, "--from-outputs", outputs],
      noPulumi,
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(EXIT.ok);
  });

  it("bad arguments: exit 2", async () => {
    const r = await tool("promote.ts", ["--from", "dev"]);
    expect(r.code).toBe(EXIT.usage);
  });
});

describe("guard and bench", () => {
  it("guard: an unreadable preview is exit 2", async () => {
    const r = await tool("guard.ts", ["--preview", path.join(TMP, "missing.json")]);
    expect(r.code).toBe(EXIT.usage);
  });

  it("bench:data: a bad option is exit 2, no Docker engine exit 3 in one line", async () => {
    expect((await tool("bench-data.ts", ["--runs", "0"])).code).toBe(EXIT.usage);
    const r = await tool("bench-data.ts", ["--runs", "1"], NO_ENGINE);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^bench:data: missing: no Docker engine answers/),
    ]);
    expect(r.code).toBe(EXIT.environment);
  });

  it("bench: a bad option is exit 2", async () => {
    const r = await tool("bench.ts", ["--runs", "zero"]);
    expect(r.code).toBe(EXIT.usage);
  });
});

describe("docs/exit-codes.md", () => {
  /** The `| `code` | `name` | ...` rows of the first table. */
  const documented = (text: string): Array<[string, number]> =>
    [...text.matchAll(/^\| `(\d+)`\s+\| `(\w+)`\s+\|/gm)].map((m) => [m[2], Number(m[1])]);
  const doc = fs.readFileSync(path.join(ROOT, "docs", "exit-codes.md"), "utf8");

  it("documents exactly the codes of scripts/lib/exit-codes.ts, and the signal codes", () => {
    expect(documented(doc)).toEqual(Object.entries(EXIT));
    expect(doc).toContain("`130` (SIGINT) or `143` (SIGTERM)");
  });

  it("its broken twin: a row missing from the table is noticed", () => {
    const broken = doc.replace(/^\| `3`.*\n/m, "");
    expect(documented(broken)).not.toEqual(Object.entries(EXIT));
  });
});
