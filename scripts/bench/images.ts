import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseSettings, rawFromStackFile } from "../../components/config/settings";
import { buildContextHash } from "../lib/context-hash";
import { ProjectInfo, pulumiConfig, readStackConfig } from "./project";
import { ProgramStarter } from "./runner";
import { median } from "./stats";
import { ms, times } from "./table";

/*
 * The image cases of `npm run bench`: the program's start with panopticon:appSource
 * set and nothing changed, against the same stack pinned to prebuilt images (the
 * build resources may cost at most 1.5x at start), and on the real engine the time
 * a no-change rebuild takes. Figures only: nothing here asserts a time.
 */

/** The build resources may make the start at most this much slower (issue 11). */
export const BUILD_START_LIMIT = 1.5;

const KEY = "panopticon:appSource";
const SERVICES = "panopticon:services";
const RELEASE = "panopticon:release";

/**
 * What the no-change rebuild builds when the user names no checkout: the tests' stand-in
 * tree, whose dockerfiles start FROM the local test images (scripts/docker-setup.sh), so
 * it builds offline. The fixture checkout's FROM python/postgres would need a registry.
 */
export const OFFLINE_BUILD_SOURCE = path.join(
  __dirname,
  "..",
  "..",
  "tests",
  "fixtures",
  "panopticon-src",
);

/**
 * The same stack with every built service pinned to a prebuilt image, and no appSource:
 * as a promotion leaves a stack, the layout it read from the checkout's compose file
 * is its `panopticon:release` (with the checkout's revision, as dev exports it).
 */
export function pinnedTwin(
  stack: string,
  dir: string,
  stackConfig: Record<string, unknown>,
): { config: Record<string, unknown>; built: string[] } {
  const settings = parseSettings(rawFromStackFile(stackConfig), { stack, baseDir: dir });
  const built = settings.images.services.filter((s) => s.from === "build").map((s) => s.service);
  const services = { ...((stackConfig[SERVICES] as Record<string, unknown>) ?? {}) };
  const postgres = new Set(
    settings.services.filter((s) => s.kind === "postgres").map((s) => s.name),
  );
  built.forEach((name, i) => {
    const block = services[name];
    services[name] = {
      ...(block && typeof block === "object" ? block : {}),
      // Postgres keeps a tag its major can be read from, as a pinned Postgres must.
      image: `registry.example/panopticon/${name}:${postgres.has(name) ? "pg15" : "1.0.0"}@sha256:${String(i).padStart(64, "a")}`,
    };
  });
  const config: Record<string, unknown> = { ...stackConfig, [SERVICES]: services };
  delete config[KEY];
  if (config[RELEASE] === undefined) {
    const { release } = settings.layout;
    // The bench's fixture checkouts are no git repositories: no commit to record.
    config[RELEASE] = {
      source: release.source ?? { commit: null, dirty: null },
      compose: release.compose,
    };
  }
  return { config, built };
}

export interface ImageStartResult {
  readonly stack: string;
  readonly built: readonly string[];
  readonly buildMs: number;
  readonly pinnedMs: number;
  readonly buildRegistrations: number;
  readonly pinnedRegistrations: number;
  readonly ratio: number;
}

/** Start (process start → all registered, mocks, preview) of both configs, interleaved. */
export async function measureImageStart(
  project: ProjectInfo,
  stack: string,
  stackConfig: Record<string, unknown>,
  runs: number,
  progress: (line: string) => void,
): Promise<ImageStartResult> {
  const buildConfig = stackConfig;
  const twin = pinnedTwin(stack, project.dir, buildConfig);
  if (twin.built.length === 0) {
    throw new Error(`${stack}: ${KEY} builds no service; nothing to compare`);
  }
  const configs = {
    build: pulumiConfig(project, buildConfig).config,
    pinned: pulumiConfig(project, twin.config).config,
  };
  const starter = new ProgramStarter();
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-bench-images-"));
  const ms = { build: [] as number[], pinned: [] as number[] };
  const regs = { build: 0, pinned: 0 };
  try {
    for (let run = 0; run < runs; run++) {
      const order: Array<"build" | "pinned"> =
        run % 2 === 0 ? ["build", "pinned"] : ["pinned", "build"];
      for (const which of order) {
        const r = await starter.start({
          project,
          stack,
          config: configs[which],
          way: "project",
          tsNodeCacheDir: cache,
        });
        ms[which].push(r.allRegisteredMs);
        regs[which] = r.registrations;
        progress(
          `images run ${run + 1}/${runs} ${stack} ${which}: ${Math.round(r.allRegisteredMs)} ms`,
        );
      }
    }
  } finally {
    starter.close();
    fs.rmSync(cache, { recursive: true, force: true });
  }
  const buildMs = median(ms.build);
  const pinnedMs = median(ms.pinned);
  return {
    stack,
    built: twin.built,
    buildMs,
    pinnedMs,
    buildRegistrations: regs.build,
    pinnedRegistrations: regs.pinned,
    ratio: buildMs / pinnedMs,
  };
}

export interface RebuildResult {
  readonly builder: string;
  readonly services: number;
  /** Building every image once from scratch of our layers (base images are local). */
  readonly firstBuildMs: number;
  /** Hashing the context, which is all a no-change `pulumi up` does per image. */
  readonly contextHashMs: number;
  /** Every image built again with nothing changed (all cache hits). */
  readonly cachedRebuildMs: number;
  /** True when the cached rebuild gave every service the same image id. */
  readonly sameIds: boolean;
}

function docker(args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync("docker", args, { encoding: "utf8", env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`docker ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * On the real engine: builds every dockerfile of a checkout, then times what a
 * no-change rebuild costs. There is no buildx on every machine, so the classic
 * builder is used where `docker buildx` is missing (reported).
 */
export function measureNoChangeRebuild(
  source: string,
  dockerfiles: readonly { service: string; dockerfile: string }[],
): RebuildResult | { skipped: string } {
  if (spawnSync("docker", ["info"], { stdio: "ignore" }).status !== 0) {
    return { skipped: "no Docker engine" };
  }
  const buildx = spawnSync("docker", ["buildx", "version"], { stdio: "ignore" }).status === 0;
  const env = buildx ? {} : { DOCKER_BUILDKIT: "0" };
  const prefix = `panopticon-bench-${process.pid}`;
  const tags: string[] = [];
  const buildAll = () =>
    dockerfiles.map(({ service, dockerfile }) => {
      const tag = `${prefix}-${service}:built`;
      tags.push(tag);
      const f = path.join(source, dockerfile);
      docker(
        [
          "build",
          "--quiet",
          "--file",
          f,
          "--tag",
          tag,
          "--build-arg",
          "SOURCE_DATE_EPOCH=0",
          source,
        ],
        env,
      );
      return docker(["image", "inspect", "--format", "{{.Id}}", tag]);
    });
  try {
    let t = performance.now();
    const first = buildAll();
    const firstBuildMs = performance.now() - t;
    t = performance.now();
    for (const { dockerfile } of dockerfiles)
      buildContextHash(source, path.join(source, dockerfile));
    const contextHashMs = performance.now() - t;
    t = performance.now();
    const again = buildAll();
    const cachedRebuildMs = performance.now() - t;
    return {
      builder: buildx
        ? "BuildKit (docker buildx)"
        : "classic builder: no docker buildx on this machine",
      services: dockerfiles.length,
      firstBuildMs,
      contextHashMs,
      cachedRebuildMs,
      sameIds: first.every((id, i) => id === again[i]),
    };
  } finally {
    for (const tag of new Set(tags)) spawnSync("docker", ["image", "rm", tag], { stdio: "ignore" });
  }
}

export interface ImageCases {
  readonly start: ImageStartResult;
  readonly source: string;
  readonly rebuild: RebuildResult | { skipped: string };
}

/**
 * Both image cases for one stack: the start from `appSource`, and the no-change rebuild
 * of `rebuildSource` (the user's checkout, or OFFLINE_BUILD_SOURCE).
 */
export async function imageCases(
  project: ProjectInfo,
  appSource: string,
  rebuildSource: string,
  stack: string,
  runs: number,
  progress: (line: string) => void,
): Promise<ImageCases> {
  const own = readStackConfig(project.dir, stack, appSource);
  const start = await measureImageStart(project, stack, own, runs, progress);
  const rebuildConfig = readStackConfig(project.dir, stack, rebuildSource);
  const settings = parseSettings(rawFromStackFile(rebuildConfig), { stack, baseDir: project.dir });
  const dockerfiles = settings.images.services.flatMap((s) =>
    s.from === "build" ? [{ service: s.service, dockerfile: s.build.dockerfileInSource }] : [],
  );
  progress(`images: no-change rebuild of ${dockerfiles.length} images on the real engine`);
  return {
    start,
    source: rebuildSource,
    rebuild: measureNoChangeRebuild(rebuildSource, dockerfiles),
  };
}

/** The report's lines for the image cases. */
export function formatImageCases(images: ImageCases): string[] {
  const st = images.start;
  const out = [
    `Images (${st.stack}): start with appSource set, nothing changed (${st.built.length} build resources, ` +
      `${st.buildRegistrations} registrations) ${ms(st.buildMs)} ms vs the same stack pinned to images ` +
      `(${st.pinnedRegistrations} registrations) ${ms(st.pinnedMs)} ms: ${times(st.ratio)} ` +
      `(limit ${BUILD_START_LIMIT}×: ${st.ratio <= BUILD_START_LIMIT ? "met" : "NOT met"})`,
  ];
  const rb = images.rebuild;
  if ("skipped" in rb) out.push(`No-change rebuild on the real engine: skipped (${rb.skipped})`);
  else {
    out.push(
      `No-change rebuild on the real engine (${rb.builder}, ${rb.services} images of ${images.source}): ` +
        `context hash, all a no-change pulumi up does, ${ms(rb.contextHashMs)} ms; ` +
        `every image rebuilt from cache ${ms(rb.cachedRebuildMs)} ms ` +
        `(${rb.sameIds ? "same image ids" : "DIFFERENT image ids"}); first build ${ms(rb.firstBuildMs)} ms`,
    );
  }
  return out;
}
