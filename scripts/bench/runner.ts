import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import type { ChildFailure, ChildJob, ChildResult } from "./child";
import { ProjectInfo, RuntimeOptions } from "./project";

/*
 * Starts the program in a child process per measured run, as the Node.js language
 * host would start it, and collects what the child measured.
 */

/**
 * `project`: this project's settings (Pulumi.yaml runtime options, tsconfig).
 * `default`: Pulumi's default start of a TypeScript program: ts-node with
 * type-checking, no node arguments.
 */
export type Way = "project" | "default";
export const WAYS: readonly Way[] = ["project", "default"];

export interface Launch {
  readonly execArgv: string[];
  /** Variables to set; `undefined` removes an inherited one. */
  readonly env: Record<string, string | undefined>;
}

/**
 * The node arguments and environment the language host would give the launcher.
 * Inherited knobs (PULUMI_NODEJS_*, TS_NODE_*, NODE_OPTIONS) are cleared so the
 * caller's shell cannot change what is measured: the project's way is exactly what
 * a user gets from `pulumi up` with no extra variable exported.
 */
export function launchFor(way: Way, runtime: RuntimeOptions): Launch {
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env)) {
    if (/^(PULUMI_NODEJS_|TS_NODE_)/.test(k) || k === "NODE_OPTIONS") env[k] = undefined;
  }
  if (way === "default") {
    // typescript: true (the default), and the launcher's own switch forcing ts-node to type-check.
    return {
      execArgv: [],
      env: { ...env, PULUMI_NODEJS_TYPESCRIPT: "true", PULUMI_NODEJS_TRANSPILE_ONLY: "false" },
    };
  }
  return {
    execArgv: [...runtime.nodeargs],
    env: {
      ...env,
      PULUMI_NODEJS_TYPESCRIPT: runtime.typescript ? "true" : undefined,
      PULUMI_NODEJS_TSCONFIG_PATH: runtime.tsconfig,
    },
  };
}

export interface StartOptions {
  readonly project: ProjectInfo;
  readonly stack: string;
  /** The flat PULUMI_CONFIG map (see project.ts pulumiConfig). */
  readonly config: Record<string, string>;
  readonly way: Way;
  /** ts-node's on-disk cache; a fresh empty directory models a changed program or a new machine. */
  readonly tsNodeCacheDir: string;
  /** @default true (`pulumi preview`) */
  readonly dryRun?: boolean;
  readonly recordNames?: boolean;
  /** @default 180000 */
  readonly timeoutMs?: number;
}

/**
 * Sources of the child, repository-relative; compiled into the same layout in a
 * temporary directory. The mocks are the tests' own table (scripts/bench/mocks.ts).
 */
const CHILD_SOURCES = ["scripts/bench/child.ts", "scripts/bench/mocks.ts"];
const REPO = path.join(__dirname, "..", "..");

/** Compiles the child program to plain JavaScript once and starts it per run. */
export class ProgramStarter {
  private dir: string | undefined;

  /** The child's entry point, compiled on first use into a private temporary directory. */
  private childPath(): string {
    if (this.dir === undefined) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-bench-"));
      for (const file of CHILD_SOURCES) {
        const src = fs.readFileSync(path.join(REPO, file), "utf8");
        const js = ts.transpileModule(src, {
          fileName: path.basename(file),
          compilerOptions: {
            module: ts.ModuleKind.CommonJS,
            target: ts.ScriptTarget.ES2022,
            esModuleInterop: true,
          },
        });
        const out = path.join(dir, file.replace(/\.ts$/, ".js"));
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(out, js.outputText);
      }
      this.dir = dir;
    }
    return path.join(this.dir, "scripts", "bench", "child.js");
  }

  /** Starts the program once; resolves with the child's measurements. */
  start(opts: StartOptions): Promise<ChildResult> {
    const launch = launchFor(opts.way, opts.project.runtime);
    const job: ChildJob = {
      projectDir: opts.project.dir,
      program: opts.project.program,
      project: opts.project.name,
      stack: opts.stack,
      dryRun: opts.dryRun ?? true,
      recordNames: opts.recordNames,
    };
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(launch.env)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    env.PULUMI_CONFIG = JSON.stringify(opts.config);
    env.PULUMI_CONFIG_SECRET_KEYS = "[]";
    env.TS_NODE_CACHE_DIRECTORY = opts.tsNodeCacheDir;
    env.BENCH_JOB = JSON.stringify(job);

    const child = spawn(process.execPath, [...launch.execArgv, this.childPath()], {
      cwd: opts.project.dir,
      env,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout?.resume();
    return new Promise((resolve, reject) => {
      let message: ChildResult | ChildFailure | undefined;
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`${opts.way} start of stack ${opts.stack} timed out`));
      }, opts.timeoutMs ?? 180_000);
      child.on("message", (m) => (message = m as ChildResult | ChildFailure));
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        if (message?.ok) return resolve(message);
        const why = message && !message.ok ? message.error : `exit ${code ?? signal}`;
        const tail = stderr.trim().split("\n").slice(-15).join("\n");
        reject(
          new Error(
            `${opts.way} start of stack ${opts.stack} failed: ${why}${tail ? `\n${tail}` : ""}`,
          ),
        );
      });
    });
  }

  /** Removes the compiled child. */
  close(): void {
    if (this.dir !== undefined) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
