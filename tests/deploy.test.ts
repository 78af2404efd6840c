import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { ConfigError, parseSettings, rawFromStackFile } from "../components/config/settings";
import { PULUMI_CLI_MISSING } from "../scripts/lib/exit-codes";
import { POSTGRES_IMAGE } from "./support/app-images";
import { promotedRelease } from "./support/harness";

/*
 * scripts/deploy.sh with stand-ins on PATH: a `pulumi` that records every call
 * and plays a logged-out or logged-in CLI, an `npm` that records, a `docker`
 * whose engine answers or not. Only the script's own logic is tested here;
 * `pulumi up` itself stays the user's. Each run gets a temp project copy and a
 * temp HOME, and a PATH holding only the tools the script is allowed to find.
 */

const ROOT = path.join(__dirname, "..");
const SCRIPT = fs.readFileSync(path.join(ROOT, "scripts", "deploy.sh"), "utf8");
const SYSTEM_TOOLS = [
  "bash",
  "sed",
  "grep",
  "mkdir",
  "chmod",
  "cat",
  "head",
  "tr",
  "ls",
  "dirname",
  "mktemp",
  "rm",
];

const LOCAL_STACK = `config:
  panopticon:environment: local
  panopticon:appSource: ../argus
  panopticon:services:
    postgres:
      image: postgres:15
`;
const AWS_STACK = `config:
  panopticon:environment: aws
  panopticon:appSource: ../argus
`;
const APPS = [
  "main-app",
  "query-storage",
  "evaluation-storage",
  "judge-service",
  "visualization-service",
  "model-registry",
];
const PINNED_STACK = `config:
  panopticon:environment: local
  panopticon:services:
${APPS.map((a) => `    ${a}:\n      kind: app\n      image: registry.example/${a}:1@sha256:${"a".repeat(64)}`).join("\n")}
`;

/**
 * A local stack without a checkout, as a promotion leaves it: the compose era's release
 * and one digest per app service (and the postgres image a local stack runs).
 */
function releasedStack(without: string[] = []): string {
  const promoted = promotedRelease("compose-era");
  const services: Record<string, unknown> = {
    ...(promoted["panopticon:services"] as Record<string, unknown>),
    postgres: { image: POSTGRES_IMAGE },
  };
  for (const name of without) services[name] = {};
  return stringify({
    config: {
      "panopticon:environment": "local",
      "panopticon:services": services,
      "panopticon:release": promoted["panopticon:release"],
    },
  });
}

// The stand-in pulumi: one line per call, arguments separated by \x1f, then the
// passphrase variables it saw. State (login, stored password) in $STUB_STATE.
const PULUMI_STUB = `#!/usr/bin/env bash
printf '%s\\x1f' "$@" >>"$STUB_STATE/calls"
printf 'PPF=%s PP=%s\\n' "\${PULUMI_CONFIG_PASSPHRASE_FILE:-}" "\${PULUMI_CONFIG_PASSPHRASE-<unset>}" >>"$STUB_STATE/calls"
case "$1" in
  whoami)
    if [ -f "$STUB_STATE/backend" ]; then
      printf 'User: alice\\nOrganizations: alice\\nBackend URL: %s\\n' "$(cat "$STUB_STATE/backend")"
      exit 0
    fi
    echo "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions" >&2
    exit 255 ;;
  login) printf '%s' "$2" >"$STUB_STATE/backend" ;;
  preview)
    # A scripted preview: its JSON on stdout, pulumi's own noise on stderr, its exit code.
    [ -f "$STUB_STATE/preview.json" ] && cat "$STUB_STATE/preview.json"
    [ -f "$STUB_STATE/preview.stderr" ] && cat "$STUB_STATE/preview.stderr" >&2
    [ -f "$STUB_STATE/preview.rc" ] && exit "$(cat "$STUB_STATE/preview.rc")" ;;
  config)
    if [ "$2" = get ]; then [ -f "$STUB_STATE/pgpass" ] && cat "$STUB_STATE/pgpass" && exit 0; exit 255; fi
    if [ "$2" = set ]; then printf '%s' "\${@: -1}" >"$STUB_STATE/pgpass"; fi ;;
esac
exit 0
`;
const NPM_STUB = `#!/usr/bin/env bash
printf 'npm %s\\n' "$*" >>"$STUB_STATE/npm"
if [ "$3" = backup:before-change ]; then
  [ -z "\${STUB_BACKUP_FAIL:-}" ] || { echo "backup: no space left" >&2; exit 1; }
  [ -z "\${STUB_BACKUP_DIR:-}" ] || echo "$STUB_BACKUP_DIR"
fi
`;
const DOCKER_STUB = `#!/usr/bin/env bash
printf 'docker %s\\n' "$*" >>"$STUB_STATE/docker"
if [ "$1" = info ] && [ -n "\${STUB_DOCKER_DOWN:-}" ]; then
  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1
fi
exit 0
`;
const OLD_NODE_STUB = `#!/usr/bin/env bash
if [ "$1" = --version ]; then echo v20.11.1; exit 0; fi
exec "${process.execPath}" "$@"
`;

interface Env {
  dir: string;
  project: string;
  home: string;
  state: string;
  stub: string;
  sys: string;
  /** TMPDIR of every run: deploy.sh must leave it empty. */
  tmp: string;
}

let env: Env;

function write(file: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
}

beforeEach(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-sh-"));
  env = {
    dir,
    project: path.join(dir, "project"),
    home: path.join(dir, "home"),
    state: path.join(dir, "state"),
    stub: path.join(dir, "stub"),
    sys: path.join(dir, "sys"),
    tmp: path.join(dir, "tmp"),
  };
  for (const d of [env.home, env.state, env.stub, env.sys, env.tmp])
    fs.mkdirSync(d, { recursive: true });
  // A checkout is a directory holding a docker-compose.yml; the script reads no more of it.
  write(path.join(dir, "argus", "docker-compose.yml"), "services:\n  main-app:\n    build: .\n");
  write(path.join(env.project, "scripts", "deploy.sh"), SCRIPT, 0o755);
  write(path.join(env.project, "Pulumi.dev.yaml"), LOCAL_STACK);
  write(path.join(env.project, "Pulumi.prod.yaml"), AWS_STACK);
  for (const tool of SYSTEM_TOOLS) {
    const found = spawnSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" });
    fs.symlinkSync(found.stdout.trim(), path.join(env.sys, tool));
  }
  fs.symlinkSync(process.execPath, path.join(env.sys, "node"));
  write(path.join(env.stub, "pulumi"), PULUMI_STUB, 0o755);
  write(path.join(env.stub, "npm"), NPM_STUB, 0o755);
  write(path.join(env.stub, "docker"), DOCKER_STUB, 0o755);
});
afterEach(() => fs.rmSync(env.dir, { recursive: true, force: true }));

function deploy(args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(path.join(env.project, "scripts", "deploy.sh"), args, {
    encoding: "utf8",
    cwd: env.dir,
    env: {
      PATH: `${env.stub}:${env.sys}`,
      HOME: env.home,
      STUB_STATE: env.state,
      TMPDIR: env.tmp,
      ...extra,
    },
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The recorded pulumi calls: args and the passphrase variables each one saw. */
function calls(): Array<{ args: string[]; ppf: string; pp: string }> {
  const file = path.join(env.state, "calls");
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const parts = line.split("\x1f");
      const tail = parts.pop() ?? "";
      const m = /^PPF=(.*) PP=(.*)$/.exec(tail);
      return { args: parts, ppf: m?.[1] ?? "?", pp: m?.[2] ?? "?" };
    });
}
const npmCalls = () =>
  fs.existsSync(path.join(env.state, "npm"))
    ? fs.readFileSync(path.join(env.state, "npm"), "utf8").trim().split("\n")
    : [];
const dockerCalls = () =>
  fs.existsSync(path.join(env.state, "docker"))
    ? fs.readFileSync(path.join(env.state, "docker"), "utf8").trim().split("\n")
    : [];
const passFile = () => path.join(env.home, ".config", "panopticon", "dev.passphrase");

describe("deploy.sh on a machine that never logged in", () => {
  it("uses the local file backend, creates a 0600 passphrase and passes flags to pulumi up", () => {
    const r = deploy(["dev", "--yes", "--diff"]);
    expect([r.code, r.err]).toEqual([0, expect.any(String)]);
    const backend = `file://${env.project}/.pulumi-state`;
    expect(r.err).toContain(`using Pulumi's local file backend ${backend}`);
    expect(r.err).toContain(`created a passphrase for stack dev in ${passFile()} (mode 0600)`);
    expect(fs.statSync(passFile()).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(passFile(), "utf8")).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(fs.statSync(path.join(env.project, ".pulumi-state")).isDirectory()).toBe(true);

    const c = calls();
    expect(c.map((x) => x.args)).toEqual([
      ["whoami", "--verbose"],
      ["login", backend],
      ["stack", "select", "--create", "dev"],
      ["config", "get", "--stack", "dev", "postgresPassword"],
      ["config", "set", "--stack", "dev", "--secret", "postgresPassword", expect.any(String)],
      ["preview", "--stack", "dev", "--json"],
      ["up", "--stack", "dev", "--yes", "--diff"],
    ]);
    // Every call after the passphrase exists sees it, and only through the file variable.
    for (const x of c.slice(2)) expect([x.ppf, x.pp]).toEqual([passFile(), "<unset>"]);
    expect(c[4].args[6]).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(npmCalls()).toEqual([
      "npm install --ignore-scripts --no-audit --no-fund",
      expect.stringMatching(/^npm run --silent backup:before-change -- --stack dev --preview \S+$/),
    ]);
    expect(r.err).not.toContain("backed up before the change");
  });

  it("a second run reuses the login, the passphrase and the stored password", () => {
    expect(deploy(["dev", "--yes"]).code).toBe(0);
    const passphrase = fs.readFileSync(passFile(), "utf8");
    fs.rmSync(path.join(env.state, "calls"));

    const r = deploy(["dev"]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`using the passphrase of stack dev in ${passFile()}`);
    expect(r.err).not.toContain("created a passphrase");
    expect(fs.readFileSync(passFile(), "utf8")).toBe(passphrase);
    const c = calls();
    expect(c.map((x) => x.args[0])).toEqual(["whoami", "stack", "config", "preview", "up"]);
    expect(c.find((x) => x.args[0] === "up")).toEqual({
      args: ["up", "--stack", "dev"],
      ppf: passFile(),
      pp: "<unset>",
    });
  });
});

describe("deploy.sh never overwrites an existing login or passphrase", () => {
  it("a Pulumi Cloud login is kept and needs no passphrase", () => {
    write(path.join(env.state, "backend"), "https://api.pulumi.com");
    const r = deploy(["dev"]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(
      "using the Pulumi backend you are logged in to: https://api.pulumi.com",
    );
    expect(calls().map((x) => x.args[0])).not.toContain("login");
    expect(calls().every((x) => x.ppf === "")).toBe(true);
    expect(fs.existsSync(passFile())).toBe(false);
  });

  it("a self-managed backend gets a passphrase, the login stays", () => {
    write(path.join(env.state, "backend"), "s3://team-state");
    const r = deploy(["dev"]);
    expect(r.code).toBe(0);
    expect(calls().map((x) => x.args[0])).not.toContain("login");
    expect(fs.existsSync(passFile())).toBe(true);
  });

  it.each([
    ["PULUMI_CONFIG_PASSPHRASE", "hunter2", "PULUMI_CONFIG_PASSPHRASE"],
    ["PULUMI_CONFIG_PASSPHRASE", "", "PULUMI_CONFIG_PASSPHRASE"],
    ["PULUMI_CONFIG_PASSPHRASE_FILE", "/somewhere/mine", "PULUMI_CONFIG_PASSPHRASE_FILE"],
  ])("%s=%j already set: used as is, no file created", (name, value, said) => {
    const r = deploy(["dev"], { [name]: value });
    expect(r.code).toBe(0);
    expect(r.err).toContain(`using the passphrase already set in ${said}`);
    expect(fs.existsSync(passFile())).toBe(false);
    const up = calls().find((x) => x.args[0] === "up");
    if (name === "PULUMI_CONFIG_PASSPHRASE") expect([up?.ppf, up?.pp]).toEqual(["", value]);
    else expect(up?.ppf).toBe(value);
  });

  it("an existing passphrase file is never rewritten, whatever it holds", () => {
    write(passFile(), "my own passphrase\n", 0o600);
    expect(deploy(["dev"]).code).toBe(0);
    expect(fs.readFileSync(passFile(), "utf8")).toBe("my own passphrase\n");
  });

  it("a stack file with an encryptionsalt but no known passphrase: exit 3, no new passphrase", () => {
    write(path.join(env.project, "Pulumi.dev.yaml"), `encryptionsalt: v1:abc:def\n${LOCAL_STACK}`);
    const r = deploy(["dev"]);
    expect(r.code).toBe(3);
    expect(r.err).toContain("has an encryptionsalt: stack dev already has a passphrase");
    expect(fs.existsSync(passFile())).toBe(false);
    expect(npmCalls()).toEqual([]);
  });

  it("PULUMI_BACKEND_URL that does not answer: exit 3, no other backend", () => {
    const r = deploy(["dev"], { PULUMI_BACKEND_URL: "s3://gone" });
    expect(r.code).toBe(3);
    expect(r.err).toContain("PULUMI_BACKEND_URL = 's3://gone' but 'pulumi whoami' fails");
    expect(calls().map((x) => x.args[0])).toEqual(["whoami"]);
  });

  it("a stored login that fails now (offline, expired): exit 3, no local login", () => {
    write(
      path.join(env.home, ".pulumi", "credentials.json"),
      JSON.stringify({ current: "https://api.pulumi.com", accessTokens: {} }),
    );
    const r = deploy(["dev"]);
    expect(r.code).toBe(3);
    expect(r.err).toContain("logged in to the Pulumi backend https://api.pulumi.com but");
    expect(calls().map((x) => x.args[0])).toEqual(["whoami"]);
  });
});

describe("deploy.sh prerequisites: one line each, nothing run; exit 3 (machine) or 2 (stack file)", () => {
  const cases: Array<[string, () => Record<string, string>, string, number]> = [
    [
      "Node.js missing",
      () => (fs.rmSync(path.join(env.sys, "node")), {}),
      "Node.js >= 22.6 is required (node not found on PATH)",
      3,
    ],
    [
      "Node.js too old",
      () => (write(path.join(env.stub, "node"), OLD_NODE_STUB, 0o755), {}),
      "Node.js >= 22.6 is required (found v20.11.1)",
      3,
    ],
    [
      "Pulumi CLI missing",
      () => (fs.rmSync(path.join(env.stub, "pulumi")), {}),
      PULUMI_CLI_MISSING, // the same line npm run promote gives
      3,
    ],
    [
      "Docker engine not running",
      () => ({ STUB_DOCKER_DOWN: "1" }),
      "stack dev is local: no Docker engine answers 'docker info'",
      3,
    ],
    [
      "Docker missing",
      () => (fs.rmSync(path.join(env.stub, "docker")), {}),
      "stack dev is local: Docker is required (docker not found on PATH)",
      3,
    ],
    [
      "no checkout and no promoted release",
      () => (write(path.join(env.project, "Pulumi.dev.yaml"), "config: {}\n"), {}),
      "stack dev: no Panopticon checkout (panopticon:appSource) and no promoted release (panopticon:release)",
      2,
    ],
    [
      "appSource directory missing",
      () => (fs.rmSync(path.join(env.dir, "argus"), { recursive: true }), {}),
      "panopticon:appSource = '../argus': directory",
      3,
    ],
    [
      "appSource without a docker-compose.yml",
      () => (fs.rmSync(path.join(env.dir, "argus", "docker-compose.yml")), {}),
      "has no docker-compose.yml, so it is not a Panopticon checkout",
      3,
    ],
    [
      "appSource naming a file",
      () => (
        fs.rmSync(path.join(env.dir, "argus"), { recursive: true }),
        write(path.join(env.dir, "argus"), "not a checkout\n"),
        {}
      ),
      "panopticon:appSource = '../argus': directory",
      3,
    ],
  ];

  it.each(cases)("%s", (_name, arrange, line, code) => {
    const extra = arrange();
    const r = deploy(["dev", "--yes"], extra);
    expect(r.code).toBe(code);
    const missing = r.err.split("\n").filter((l) => l.startsWith("deploy: missing: "));
    expect(missing).toHaveLength(1);
    expect(missing[0]).toContain(line);
    expect(r.err).toContain("nothing was run");
    expect(calls()).toEqual([]);
    expect(npmCalls()).toEqual([]);
    expect(fs.readdirSync(env.tmp)).toEqual([]);
  });

  it.each([
    ["missing", () => fs.rmSync(path.join(env.dir, "argus"), { recursive: true })],
    [
      "without docker-compose.yml",
      () => fs.rmSync(path.join(env.dir, "argus", "docker-compose.yml")),
    ],
  ])(
    "a checkout %s: refused before any login, stack or install, even with every image pinned",
    (_n, arrange) => {
      arrange();
      write(
        path.join(env.project, "Pulumi.dev.yaml"),
        `${PINNED_STACK}  panopticon:appSource: ../argus\n`,
      );
      const r = deploy(["dev", "--yes"]);
      // The services come from the checkout's docker-compose.yml, pins or not: the
      // checkout is what this machine lacks (exit 3, as in the table above).
      expect(r.code).toBe(3);
      expect(r.err).toContain("deploy: missing: stack dev: panopticon:appSource = '../argus'");
      expect(calls()).toEqual([]);
      expect(npmCalls()).toEqual([]);
      // The only stand-in that ran is the read-only engine probe of the same checks.
      expect(dockerCalls()).toEqual(["docker info"]);
    },
  );

  it("the missing appSource line names the resolved directory and the clone to run", () => {
    fs.rmSync(path.join(env.dir, "argus"), { recursive: true });
    const r = deploy(["dev"]);
    const missing = r.err.split("\n").filter((l) => l.startsWith("deploy: missing: "));
    expect(missing).toEqual([
      `deploy: missing: stack dev: panopticon:appSource = '../argus': directory ${path.join(env.dir, "argus")} not found: ` +
        `run 'git clone https://github.com/rbownes/Argus ../argus' in ${env.project}, or fix panopticon:appSource in Pulumi.dev.yaml`,
    ]);
  });

  it("a checkout without docker-compose.yml is named with the file it lacks", () => {
    fs.rmSync(path.join(env.dir, "argus", "docker-compose.yml"));
    const r = deploy(["dev"]);
    expect(r.err).toContain(
      `panopticon:appSource = '../argus': ${path.join(env.dir, "argus")} has no docker-compose.yml`,
    );
    expect(r.err).toContain("git clone https://github.com/rbownes/Argus ../argus");
  });

  it("AWS stack without AWS credentials (and no docker needed)", () => {
    fs.rmSync(path.join(env.stub, "docker"));
    const r = deploy(["prod"]);
    expect(r.code).toBe(3);
    expect(r.err.split("\n").filter((l) => l.startsWith("deploy: missing: "))).toEqual([
      expect.stringContaining("stack prod is on AWS: no AWS credentials found"),
    ]);
    expect(calls()).toEqual([]);
  });

  it("AWS stack with credentials in the environment passes the check", () => {
    const r = deploy(["prod"], { AWS_PROFILE: "panopticon" });
    expect(r.code).toBe(0);
    expect(calls().at(-1)?.args).toEqual(["up", "--stack", "prod"]);
  });

  it("a stack holding a promoted release, every app service pinned: no appSource needed", () => {
    // Pins alone no longer make a layout (the services come from compose): the release does.
    const text = releasedStack();
    const config = (parse(text) as { config: Record<string, unknown> }).config;
    expect(config["panopticon:appSource"]).toBeUndefined();
    // The program takes this file as it is ...
    expect(
      parseSettings(rawFromStackFile(config), { stack: "dev", baseDir: env.project }).services,
    ).toHaveLength(7);
    // ... and so does deploy.sh, which deploys it.
    write(path.join(env.project, "Pulumi.dev.yaml"), text);
    const r = deploy(["dev"]);
    expect(r.code).toBe(0);
    expect(calls().at(-1)?.args).toEqual(["up", "--stack", "dev"]);
  });

  it("one app service left unpinned is named: the program's refusal, shown from the preview", () => {
    // deploy.sh no longer keeps a list of apps: which services a release has, and which
    // image each runs, is the program's to say, and deploy.sh shows what it says.
    const text = releasedStack(["model-registry"]);
    const config = (parse(text) as { config: Record<string, unknown> }).config;
    let refusal = "";
    try {
      parseSettings(rawFromStackFile(config), { stack: "dev", baseDir: env.project });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      refusal = e.message;
    }
    const named = "panopticon:services.model-registry.image = (missing)";
    expect(refusal.split("\n").filter((l) => l.startsWith("  - "))).toEqual([
      expect.stringContaining(named),
    ]);
    write(path.join(env.project, "Pulumi.dev.yaml"), text);
    // The preview runs that program, which throws the refusal (as Pulumi's runner reports it).
    const urn = "urn:pulumi:dev::panopticon::pulumi:pulumi:Stack::panopticon-dev";
    const message = `Running program '${env.project}' failed with an unhandled exception:\nConfigError: ${refusal}\n    at parseSettings (${env.project}/components/settings.ts:1:1)\n`;
    write(
      path.join(env.state, "preview.json"),
      JSON.stringify({ steps: [], diagnostics: [{ urn, message, severity: "error" }] }),
    );
    write(path.join(env.state, "preview.rc"), "255");
    const r = deploy(["dev"]);
    expect(r.code).toBe(1);
    expect(r.err).not.toContain("deploy: missing:");
    expect(r.err).toContain(`  - ${named}`);
    expect(r.err).toContain(
      "deploy: the preview of stack dev failed (above); nothing was deployed",
    );
    expect(calls().map((x) => x.args[0])).not.toContain("up");
  });

  it("everything missing at once: one line per missing thing", () => {
    fs.rmSync(path.join(env.stub, "pulumi"));
    fs.rmSync(path.join(env.dir, "argus"), { recursive: true });
    const r = deploy(["dev"], { STUB_DOCKER_DOWN: "1" });
    expect(r.code).toBe(3);
    expect(r.err.split("\n").filter((l) => l.startsWith("deploy: missing: "))).toHaveLength(3);
    expect(r.err).toContain("nothing was run (3 thing(s) to fix above)");
  });

  it.each([[[]], [["staging"]], [["--yes"]]])("usage error for %j: exit 2", (args) => {
    const r = deploy(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain("usage: scripts/deploy.sh STACK");
    expect(r.err).toContain("(dev prod )");
    expect(calls()).toEqual([]);
  });
});

describe("deploy.sh backs up a local stack's data before a change that needs it", () => {
  it("prints the backup's path, then deploys", () => {
    const r = deploy(["dev"], { STUB_BACKUP_DIR: "/proj/backups/dev-20261201T170000Z" });
    expect(r.code).toBe(0);
    expect(r.out + r.err).toContain(
      "deploy: backed up before the change: /proj/backups/dev-20261201T170000Z",
    );
    expect(
      calls()
        .map((x) => x.args[0])
        .slice(-2),
    ).toEqual(["preview", "up"]);
  });

  it("a failed backup stops the deploy before pulumi up (exit 1)", () => {
    const r = deploy(["dev"], { STUB_BACKUP_FAIL: "1" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("deploy: the backup before the change failed; nothing was deployed");
    expect(calls().map((x) => x.args[0])).not.toContain("up");
  });

  it("an AWS stack is not previewed for a local backup (its snapshots are the workflow's)", () => {
    const r = deploy(["prod"], { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "x" });
    expect(r.code).toBe(0);
    expect(calls().map((x) => x.args[0])).not.toContain("preview");
    expect(npmCalls().some((l) => l.includes("backup:before-change"))).toBe(false);
  });
});

describe("deploy.sh shows why a preview failed", () => {
  const PROBLEMS = [
    'panopticon:storageMode = "nfs": expected "volume" or "bind"',
    "panopticon:services.judge-service.image = (missing): expected an image or a checkout to build from",
  ];
  /** A ConfigError as Pulumi's Node runner reports it: a banner, util.inspect's colours, frames. */
  function configErrorDiagnostic(): string {
    const heading = 'Invalid configuration for stack "dev" (nothing was created or changed):';
    const grey = (t: string) => `\u001b[90m${t}\u001b[39m`;
    return (
      `Running program '${env.project}' failed with an unhandled exception:\n` +
      `ConfigError: ${heading}\n${PROBLEMS.map((p) => `  - ${p}`).join("\n")}\n` +
      `    at parseSettings (${env.project}/components/settings.ts:229:11)\n` +
      `${grey("    at Module._compile (node:internal/modules/cjs/loader:1730:14)")} {\n` +
      `  stackName: \u001b[32m'dev'\u001b[39m,\n  problems: [ ... ]\n}\n`
    );
  }
  function failPreview(diagnostics: Array<{ message: string }>, stderr = "") {
    const urn = "urn:pulumi:dev::panopticon::pulumi:pulumi:Stack::panopticon-dev";
    const doc = {
      config: { "panopticon:environment": "local" },
      steps: [],
      diagnostics: diagnostics.map((d) => ({ urn, ...d, severity: "error" })),
      duration: 1_000_000,
      changeSummary: {},
    };
    write(path.join(env.state, "preview.json"), JSON.stringify(doc, null, 4));
    write(path.join(env.state, "preview.stderr"), stderr);
    write(path.join(env.state, "preview.rc"), "255");
  }

  it("a ConfigError: its heading and every problem line, no runner noise, exit 1, no temp file", () => {
    failPreview([{ message: configErrorDiagnostic() }, { message: "preview failed\n" }]);
    const r = deploy(["dev", "--yes"]);
    expect(r.code).toBe(1);
    const lines = r.err.trimEnd().split("\n");
    expect(lines.slice(-(PROBLEMS.length + 2))).toEqual([
      'Invalid configuration for stack "dev" (nothing was created or changed):',
      ...PROBLEMS.map((p) => `  - ${p}`),
      "deploy: the preview of stack dev failed (above); nothing was deployed",
    ]);
    expect(r.err).not.toMatch(/Running program|    at |\u001b|stackName|preview failed\n/);
    expect(calls().map((x) => x.args[0])).not.toContain("up");
    expect(npmCalls().some((l) => l.includes("backup:before-change"))).toBe(false);
    expect(fs.readdirSync(env.tmp)).toEqual([]);
  });

  it("another program error is printed as the program reported it", () => {
    failPreview([
      {
        message:
          "TypeError: Cannot read properties of undefined (reading 'ports')\n    at x.ts:1:1\n",
      },
      { message: "preview failed\n" },
    ]);
    const r = deploy(["dev"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("TypeError: Cannot read properties of undefined (reading 'ports')");
    expect(fs.readdirSync(env.tmp)).toEqual([]);
  });

  it("a failure with no JSON (the CLI's own): pulumi's stderr is shown", () => {
    write(
      path.join(env.state, "preview.stderr"),
      "error: failed to load checkpoint: unexpected EOF\n",
    );
    write(path.join(env.state, "preview.rc"), "255");
    const r = deploy(["dev"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error: failed to load checkpoint: unexpected EOF");
    expect(fs.readdirSync(env.tmp)).toEqual([]);
  });

  it("a passing preview, a failed backup and a deploy all leave TMPDIR empty", () => {
    write(path.join(env.state, "preview.stderr"), "warning: a warning pulumi printed\n");
    const ok = deploy(["dev"]);
    expect(ok.code).toBe(0);
    expect(ok.err).toContain("warning: a warning pulumi printed");
    expect(fs.readdirSync(env.tmp)).toEqual([]);
    expect(deploy(["dev"], { STUB_BACKUP_FAIL: "1" }).code).toBe(1);
    expect(fs.readdirSync(env.tmp)).toEqual([]);
  });
});

describe("deploy.sh structure", () => {
  it("before_up is the last step before pulumi up", () => {
    const steps = SCRIPT.split("\n").filter((l) => /^[a-z]/.test(l));
    expect(steps.slice(-2)).toEqual(["before_up", 'pulumi up --stack "$stack" "$@"']);
  });
});

describe("deploy.sh reads the stack file as the program does", () => {
  /** The program refuses a stack with neither a checkout nor a promoted release. */
  function programRefuses(text: string): boolean {
    const config = (parse(text) as { config?: Record<string, unknown> }).config;
    try {
      parseSettings(rawFromStackFile(config), { stack: "dev", baseDir: env.project });
      return false;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return /panopticon:release = \(missing\)/.test(e.message);
    }
  }
  function scriptRefuses(text: string): boolean {
    write(path.join(env.project, "Pulumi.dev.yaml"), text);
    const r = deploy(["dev"]);
    return /no Panopticon checkout \(panopticon:appSource\) and no promoted release/.test(r.err);
  }
  const REPO_DEV = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
  const RELEASE = `  panopticon:release:\n    compose:\n      services: {}\n`;

  it.each([
    [
      "the repository's Pulumi.dev.yaml without its checkout",
      REPO_DEV.replace(/^ {2}panopticon:appSource:.*\n/m, ""),
      true,
    ],
    ["an empty config", "config: {}\n", true],
    ["a stack holding a promoted release", `config:\n${RELEASE}`, false],
  ])("%s: refused by both, or by neither", (_name, text, refused) => {
    expect([scriptRefuses(text), programRefuses(text)]).toEqual([refused, refused]);
  });
});
