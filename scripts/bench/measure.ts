import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ChildResult } from "./child";
import { ProjectInfo, pulumiConfig, readStackConfig, withServices } from "./project";
import { ProgramStarter, Way, WAYS } from "./runner";
import { linearity, Linearity, median } from "./stats";

/*
 * The measurements behind `npm run bench`: startup of each stack both ways,
 * interleaved in one invocation, and registration cost against the number of
 * services. Each sample is a fresh child process.
 */

/**
 * `cold`: every run gets an empty ts-node cache (a CI runner, Pulumi Deployments,
 * a new machine). `warm`: each way reuses its cache after one discarded run; the
 * vendored ts-node 7 then skips compiling, and so type-checking, unchanged files.
 * `edit`: warm, but the entry point's cached output is dropped before each run,
 * as after editing index.ts: ts-node compiles (and, the default way, type-checks)
 * that one file again.
 */
export type CacheMode = "cold" | "warm" | "edit";
export const CACHE_MODES: readonly CacheMode[] = ["cold", "warm", "edit"];

/**
 * Removes the ts-node 7 cache entry of `file` (named by the SHA-256 of its
 * extension, a NUL and its source) from every compiler-options folder of `dir`;
 * returns how many entries it removed.
 */
export function forgetCachedFile(dir: string, file: string): number {
  const name = createHash("sha256")
    .update(path.extname(file), "utf8")
    .update("\0", "utf8")
    .update(fs.readFileSync(file, "utf8"), "utf8")
    .digest("hex");
  let removed = 0;
  for (const sub of fs.readdirSync(dir)) {
    for (const ext of [".js", ".jsx"]) {
      const entry = path.join(dir, sub, `${name}${ext}`);
      if (fs.existsSync(entry)) {
        fs.rmSync(entry);
        removed++;
      }
    }
  }
  return removed;
}

export interface StartupRow {
  readonly stack: string;
  readonly way: Way;
  /** Set when the program failed to start this way; the stack's other numbers are then NaN. */
  readonly error?: string;
  readonly samples: ChildResult[];
  /** Median process start → all resources registered. */
  readonly startMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly registrations: number;
  /** Median peak RSS, KiB. */
  readonly maxRssKb: number;
  readonly transpileOnly: boolean | null;
}

export interface ScalingRow {
  readonly services: number;
  readonly registrations: number;
  /** Median: entry point required → every registration finished (construction + registration). */
  readonly programMs: number;
  /** Median: first registration sent → last one answered. */
  readonly registrationMs: number;
  readonly maxRssKb: number;
}

export interface Progress {
  (line: string): void;
}

class CacheDirs {
  private readonly dirs: string[] = [];
  private readonly warm = new Map<string, string>();
  constructor(private readonly mode: CacheMode) {}
  private fresh(): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-bench-tsnode-"));
    this.dirs.push(d);
    return d;
  }
  /** The cache directory for one run, and whether it still needs priming. */
  get(key: string): { dir: string; prime: boolean; forget: boolean } {
    const forget = this.mode === "edit";
    if (this.mode === "cold") return { dir: this.fresh(), prime: false, forget };
    const known = this.warm.get(key);
    if (known !== undefined) return { dir: known, prime: false, forget };
    const d = this.fresh();
    this.warm.set(key, d);
    return { dir: d, prime: true, forget };
  }
  close(): void {
    for (const d of this.dirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

/** In `edit` mode, makes ts-node see the entry point as changed; fails loudly if it cannot. */
function forget(c: { dir: string; forget: boolean }, project: ProjectInfo): void {
  if (!c.forget) return;
  if (!project.runtime.typescript) return; // no ts-node, nothing cached
  if (forgetCachedFile(c.dir, project.program) === 0) {
    throw new Error(
      `--cache edit: no ts-node cache entry for ${project.program} in ${c.dir}; ` +
        "the cache layout is not the vendored ts-node 7's",
    );
  }
}

function check(stack: string, what: string, samples: ChildResult[]): number {
  const counts = new Set(samples.map((s) => s.registrations));
  if (counts.size !== 1) {
    throw new Error(
      `${stack} ${what}: registration counts differ between runs (${[...counts].join(", ")})`,
    );
  }
  return samples[0].registrations;
}

/** Startup of each stack, both ways, `runs` times, alternating which way goes first. */
export async function measureStartup(
  project: ProjectInfo,
  appSource: string,
  stacks: readonly string[],
  runs: number,
  cache: CacheMode,
  progress: Progress,
): Promise<StartupRow[]> {
  const sampling: Sampling = {
    project,
    progress,
    starter: new ProgramStarter(),
    caches: new CacheDirs(cache),
    samples: new Map(),
    errors: new Map(),
  };
  try {
    const configs = stackConfigs(project, appSource, stacks, progress);
    for (let run = 0; run < runs; run++) {
      for (const stack of stacks) {
        const order = run % 2 === 0 ? WAYS : [...WAYS].reverse();
        for (const way of order) {
          const at = `run ${run + 1}/${runs} ${stack} ${way}`;
          await sampleOnce(sampling, { stack, way, config: configs.get(stack)!.config }, at);
        }
      }
    }
  } finally {
    sampling.starter.close();
    sampling.caches.close();
  }
  return stacks.flatMap((stack) => WAYS.map((way) => startupRow(sampling, stack, way)));
}

/** One startup measurement's state: the starter, the caches, and what was measured. */
interface Sampling {
  readonly project: ProjectInfo;
  readonly progress: Progress;
  readonly starter: ProgramStarter;
  readonly caches: CacheDirs;
  /** Per `stack/way`. */
  readonly samples: Map<string, ChildResult[]>;
  /** Per `stack/way`: why the program did not start (it is not tried again). */
  readonly errors: Map<string, string>;
}

/** Each stack's PULUMI_CONFIG, with a note for the encrypted values left out. */
function stackConfigs(
  project: ProjectInfo,
  appSource: string,
  stacks: readonly string[],
  progress: Progress,
) {
  const configs = new Map(
    stacks.map(
      (s) => [s, pulumiConfig(project, readStackConfig(project.dir, s, appSource))] as const,
    ),
  );
  for (const [s, c] of configs) {
    if (c.skippedSecrets.length > 0) {
      progress(
        `${s}: encrypted config left out (no CLI to decrypt): ${c.skippedSecrets.join(", ")}`,
      );
    }
  }
  return configs;
}

/** One start of one stack one way (after priming its cache when the mode asks). */
async function sampleOnce(
  m: Sampling,
  run: { stack: string; way: Way; config: Record<string, string> },
  at: string,
): Promise<void> {
  const key = `${run.stack}/${run.way}`;
  if (m.errors.has(key)) return;
  const c = m.caches.get(key);
  const start = { project: m.project, ...run, tsNodeCacheDir: c.dir };
  let r: ChildResult;
  try {
    if (c.prime) await m.starter.start(start);
    forget(c, m.project);
    r = await m.starter.start(start);
  } catch (e) {
    // A program that does not start has no start time; report it and go on.
    m.errors.set(key, (e as Error).message);
    m.progress(`${at}: FAILED\n${(e as Error).message}`);
    return;
  }
  m.samples.set(key, [...(m.samples.get(key) ?? []), r]);
  m.progress(`${at}: ${Math.round(r.allRegisteredMs)} ms, ${r.registrations} registrations`);
}

/** The medians of one stack and way, or its error. */
function startupRow(m: Sampling, stack: string, way: Way): StartupRow {
  const error = m.errors.get(`${stack}/${way}`);
  if (error !== undefined) {
    return {
      stack,
      way,
      error,
      samples: [],
      startMs: NaN,
      minMs: NaN,
      maxMs: NaN,
      registrations: NaN,
      maxRssKb: NaN,
      transpileOnly: null,
    };
  }
  const s = m.samples.get(`${stack}/${way}`)!;
  const times = s.map((x) => x.allRegisteredMs);
  return {
    stack,
    way,
    samples: s,
    startMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    registrations: check(stack, way, s),
    maxRssKb: median(s.map((x) => x.maxRssKb)),
    transpileOnly: s[0].transpileOnly,
  };
}

/** Registration cost with `counts` services on `stack`, the project's way. */
export async function measureScaling(
  project: ProjectInfo,
  appSource: string,
  stack: string,
  counts: readonly number[],
  runs: number,
  cache: CacheMode,
  progress: Progress,
): Promise<{ rows: ScalingRow[]; program: Linearity; registration: Linearity }> {
  const starter = new ProgramStarter();
  const caches = new CacheDirs(cache);
  const base = readStackConfig(project.dir, stack, appSource);
  const configs = counts.map((n) => pulumiConfig(project, withServices(project, base, n)).config);
  const samples: ChildResult[][] = counts.map(() => []);
  try {
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < counts.length; i++) {
        // One cache for every size: only the config differs, the code is the same.
        const c = caches.get("scaling");
        const opts = { project, stack, config: configs[i], way: "project" as const };
        if (c.prime) await starter.start({ ...opts, tsNodeCacheDir: c.dir });
        forget(c, project);
        const r = await starter.start({ ...opts, tsNodeCacheDir: c.dir });
        samples[i].push(r);
        progress(
          `run ${run + 1}/${runs} ${counts[i]} services: ${Math.round(r.allRegisteredMs - r.launcherReadyMs)} ms, ${r.registrations} registrations`,
        );
      }
    }
  } finally {
    starter.close();
    caches.close();
  }
  const rows = counts.map((n, i) => ({
    services: n,
    registrations: check(stack, `${n} services`, samples[i]),
    programMs: median(samples[i].map((s) => s.allRegisteredMs - s.launcherReadyMs)),
    registrationMs: median(samples[i].map((s) => s.lastRegistrationMs - s.firstRegistrationMs)),
    maxRssKb: median(samples[i].map((s) => s.maxRssKb)),
  }));
  const xs = rows.map((r) => r.services);
  return {
    rows,
    program: linearity(
      xs,
      rows.map((r) => r.programMs),
    ),
    registration: linearity(
      xs,
      rows.map((r) => r.registrationMs),
    ),
  };
}

/** Wall time of the type-check `npm test` runs (tsc, full check), once. */
export function measureTypecheck(project: ProjectInfo): { ms: number; ok: boolean } {
  const tsc = require.resolve("typescript/bin/tsc", { paths: [project.dir] });
  const t = performance.now();
  const r = spawnSync(
    process.execPath,
    [tsc, "-p", "tsconfig.json", "--noEmit", "--noCheck", "false"],
    {
      cwd: project.dir,
      stdio: "ignore",
    },
  );
  return { ms: performance.now() - t, ok: r.status === 0 };
}
