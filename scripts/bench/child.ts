import * as fs from "fs";
import { createRequire } from "module";
import * as path from "path";
import { programMocks } from "./mocks";

/*
 * One measured start of the Pulumi program, in a fresh Node.js process, done the
 * way @pulumi/pulumi's launcher (cmd/run/run.js) does it: read the tsconfig with
 * the SDK's own tsutils, decide `transpileOnly` (PULUMI_NODEJS_TRANSPILE_ONLY if
 * set, else the tsconfig's `noCheck`, else ts-node's default: type-check),
 * register the same ts-node with the same options, then require the entry point
 * inside the root Stack resource. Only the engine differs: Pulumi's mocks stand in
 * for the gRPC monitor.
 *
 * This file runs as plain JavaScript (the runner transpiles it; it must not go
 * through the TypeScript hook it measures). Input: BENCH_JOB (JSON) plus the
 * environment the language host would set. Output: one IPC message.
 */

const bootMs = performance.now();

export interface ChildJob {
  readonly projectDir: string;
  readonly program: string;
  readonly project: string;
  readonly stack: string;
  /** `pulumi preview` runs the program with dry-run on. */
  readonly dryRun: boolean;
  /** Send the type and name of every registration (for tests). */
  readonly recordNames?: boolean;
}

export interface ChildResult {
  readonly ok: true;
  /** Process start → user code runs (Node.js bootstrap). */
  readonly bootMs: number;
  /** Process start → launcher ready to require the program (SDK loaded, TypeScript hook registered). */
  readonly launcherReadyMs: number;
  /** Process start → the entry point's require returned (its synchronous part ran). */
  readonly programReturnedMs: number;
  /** Process start → first registration sent. */
  readonly firstRegistrationMs: number;
  /** Process start → last registration answered by the monitor. */
  readonly lastRegistrationMs: number;
  /** Process start → every registration finished (what the issue calls "all resources registered"). */
  readonly allRegisteredMs: number;
  /** Registrations, the root Stack resource included. */
  readonly registrations: number;
  /** Peak resident set size of this process, KiB (process.resourceUsage().maxRSS). */
  readonly maxRssKb: number;
  /** Whether the TypeScript hook was registered and with which transpileOnly. */
  readonly typescript: boolean;
  readonly transpileOnly: boolean | null;
  readonly typescriptVersion: string | null;
  readonly names?: string[];
}

export interface ChildFailure {
  readonly ok: false;
  readonly error: string;
}

type Req = NodeJS.Require;

interface TsUtils {
  loadTypeScriptCompilerOptions(p: string): Record<string, unknown>;
  typeScriptRequireStrings(): { tsnodeRequire: string; typescriptRequire: string };
}

interface SemVerModule {
  parse(v: string): { compare(o: unknown): number } | null;
  SemVer: new (v: string) => unknown;
}

/** The launcher's TypeScript set-up (cmd/run/run.js, CommonJS branch), option for option. */
function registerTypeScript(
  sdkRequire: Req,
  pkg: Record<string, unknown>,
): { transpileOnly: boolean | null; version: string } {
  const tsConfigPath = process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? "tsconfig.json";
  const skipProject = !fs.existsSync(tsConfigPath);
  const tsutils = sdkRequire("../../tsutils") as TsUtils;
  const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
  const env = process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
  const transpileOnly = env ? env === "true" : (compilerOptions.noCheck as boolean | undefined);
  const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
  const ts = sdkRequire(typescriptRequire) as { version: string };
  const semver = sdkRequire("semver") as SemVerModule;
  if (pkg.type === "module") {
    throw new Error("package.json type=module: the launcher's ESM path is not reproduced here");
  }
  const useNodeNext = (semver.parse(ts.version)?.compare(new semver.SemVer("4.7.0")) ?? -1) >= 0;
  const tsnode = sdkRequire(tsnodeRequire) as { register(o: unknown): unknown };
  tsnode.register({
    compiler: typescriptRequire,
    transpileOnly,
    project: tsConfigPath,
    skipProject,
    compilerOptions: {
      target: "ES2020",
      module: useNodeNext ? "nodenext" : "commonjs",
      moduleResolution: useNodeNext ? "nodenext" : "node",
      sourceMap: "true",
      ...compilerOptions,
    },
  });
  return { transpileOnly: transpileOnly ?? null, version: ts.version };
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
}
interface Monitor {
  registerResource(req: RegisterRequest, cb: (err: unknown, resp: unknown) => void): unknown;
}

async function main(): Promise<ChildResult> {
  const job = JSON.parse(process.env.BENCH_JOB ?? "null") as ChildJob | null;
  if (job === null)
    throw new Error("BENCH_JOB is not set: start this through scripts/bench/runner.ts");
  // The language host starts the launcher in the project directory.
  process.chdir(job.projectDir);
  const projectRequire = createRequire(path.join(job.projectDir, "package.json"));
  // Resolve everything the launcher resolves from the launcher's own location.
  const sdkRequire = createRequire(projectRequire.resolve("@pulumi/pulumi/cmd/run/run.js"));
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8")) as Record<string, unknown>;

  const pulumi = sdkRequire("../../index") as typeof import("@pulumi/pulumi");
  const stack = sdkRequire("../../runtime/stack") as {
    runInPulumiStack(init: () => Promise<unknown>): Promise<unknown>;
  };
  const settings = sdkRequire("../../runtime/settings") as { waitForRPCs(): Promise<void> };
  const v8Hooks = sdkRequire("../../runtime/closure/v8Hooks") as {
    isInitializedAsync(): Promise<void>;
  };
  await v8Hooks.isInitializedAsync();

  const typescript = process.env.PULUMI_NODEJS_TYPESCRIPT === "true";
  const ts = typescript ? registerTypeScript(sdkRequire, pkg) : undefined;

  await pulumi.runtime.setMocks(programMocks, job.project, job.stack, job.dryRun);
  const monitor = pulumi.runtime.getMonitor() as unknown as Monitor;
  const register = monitor.registerResource.bind(monitor);
  let registrations = 0;
  let firstRegistrationMs = NaN;
  let lastRegistrationMs = NaN;
  const names: string[] = [];
  monitor.registerResource = (req, cb) => {
    registrations++;
    if (registrations === 1) firstRegistrationMs = performance.now();
    if (job.recordNames) names.push(`${req.getType()}::${req.getName()}`);
    return register(req, (err, resp) => {
      lastRegistrationMs = performance.now();
      cb(err, resp);
    });
  };
  const launcherReadyMs = performance.now();

  let programReturnedMs = NaN;
  await stack.runInPulumiStack(async () => {
    const exported: unknown = projectRequire(job.program);
    programReturnedMs = performance.now();
    return exported;
  });
  // Registrations the exports do not reach (e.g. initialisers) finish here.
  let seen = -1;
  while (seen !== registrations) {
    seen = registrations;
    await settings.waitForRPCs();
    await new Promise((r) => setImmediate(r));
  }
  const allRegisteredMs = performance.now();
  return {
    ok: true,
    bootMs,
    launcherReadyMs,
    programReturnedMs,
    firstRegistrationMs,
    lastRegistrationMs,
    allRegisteredMs,
    registrations,
    maxRssKb: process.resourceUsage().maxRSS,
    typescript,
    transpileOnly: ts?.transpileOnly ?? null,
    typescriptVersion: ts?.version ?? null,
    names: job.recordNames ? names : undefined,
  };
}

function send(msg: ChildResult | ChildFailure, code: number): void {
  if (process.send) process.send(msg, () => process.exit(code));
  else {
    process.stdout.write(`${JSON.stringify(msg)}\n`);
    process.exit(code);
  }
}

main().then(
  (r) => send(r, 0),
  (e: unknown) =>
    send({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }, 1),
);
