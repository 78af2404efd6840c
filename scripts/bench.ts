import { Command, InvalidArgumentError } from "commander";
import * as os from "os";
import {
  CACHE_MODES,
  CacheMode,
  measureScaling,
  measureStartup,
  measureTypecheck,
} from "./bench/measure";
import { FIXTURE_LAYOUTS, FixtureLayout } from "./bench/fixture-checkout";
import {
  benchSource,
  BenchSource,
  BenchUsageError,
  readProject,
  readStackConfig,
  stackFiles,
  withServices,
} from "./bench/project";
import { formatImageCases, imageCases, OFFLINE_BUILD_SOURCE } from "./bench/images";
import { mib, ms, renderTable, times } from "./bench/table";
import { EXIT } from "./lib/exit-codes";

/*
 * npm run bench -- [--runs 5] [--services 5,50,200] [--stacks dev,prod] [--cache cold|warm|edit]
 *                  [--typecheck] [--json] [--no-images] [--images-stack dev]
 *                  [--app-source PATH | --fixture-layout compose-era|release-0.1]
 *
 * Prints how fast Pulumi gets this program to "every resource registered" (under
 * Pulumi's mocks), this project's way against Pulumi's default TypeScript start
 * (ts-node with type-checking), and how the cost grows with the number of services;
 * then the image cases (scripts/bench/images.ts): start with appSource against the
 * same stack pinned to images, and a no-change rebuild on the real engine.
 * Stacks that build (panopticon:appSource) build from a fixture checkout the bench
 * writes to a temp directory, never from the checkout the stack names, so the figures
 * do not depend on what sits next to this project; --app-source names a real one. A
 * stack with neither a checkout nor a release (prod before its first promotion) runs
 * that checkout's release with a stand-in digest per service, as promote leaves it.
 * A report, not a test: nothing here asserts a time.
 */

/** The project's way must start this many times faster than the default (issue 7). */
const TARGET_RATIO = 3;

function positiveInt(name: string, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(
        `${name} = ${JSON.stringify(v)}: expected a whole number from 1 to ${max}`,
      );
    }
    return n;
  };
}

function intList(v: string): number[] {
  const parts = v.split(",").map((s) => s.trim());
  if (parts.length < 2 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new InvalidArgumentError(
      `--services = ${JSON.stringify(v)}: expected at least two comma-separated service counts, e.g. 5,50,200`,
    );
  }
  const ns = parts.map(Number);
  if (new Set(ns).size !== ns.length) {
    throw new InvalidArgumentError(`--services = ${JSON.stringify(v)}: expected different counts`);
  }
  return ns.sort((a, b) => a - b);
}

const stackList =
  (option: string) =>
  (v: string): string[] => {
    const parts = v.split(",").map((s) => s.trim());
    if (parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
      throw new InvalidArgumentError(
        `${option} = ${JSON.stringify(v)}: expected comma-separated stack names, e.g. dev,prod`,
      );
    }
    return parts;
  };
const nameList = stackList("--stacks");

function fixtureLayout(v: string): FixtureLayout {
  const layout = FIXTURE_LAYOUTS.find((l) => l === v);
  if (layout === undefined) {
    throw new InvalidArgumentError(
      `--fixture-layout = ${JSON.stringify(v)}: expected one of ${FIXTURE_LAYOUTS.join(", ")}`,
    );
  }
  return layout;
}

function cacheMode(v: string): CacheMode {
  const mode = CACHE_MODES.find((m) => m === v);
  if (mode === undefined) {
    throw new InvalidArgumentError(
      `--cache = ${JSON.stringify(v)}: expected one of ${CACHE_MODES.join(", ")}`,
    );
  }
  return mode;
}

interface Options {
  runs: number;
  services: number[];
  stacks?: string[];
  scaleStack?: string[];
  cache: CacheMode;
  dir: string;
  typecheck: boolean;
  json: boolean;
  projectDefaults: boolean;
  scaling: boolean;
  images: boolean;
  imagesStack: string;
  appSource?: string;
  fixtureLayout?: FixtureLayout;
}

async function main(argv: string[]): Promise<void> {
  const opts = new Command("bench")
    .description("Program start time and registration scaling under Pulumi's mocks")
    .option("--runs <n>", "runs per case; medians are reported", positiveInt("--runs", 50), 5)
    .option("--services <list>", "service counts for the scaling table", intList, [7, 50, 200])
    .option("--stacks <list>", "stacks to start (default: every Pulumi.<stack>.yaml)", nameList)
    .option(
      "--scale-stack <list>",
      "stacks whose config the scaling tables grow (default: dev, and prod-ecs when present)",
      stackList("--scale-stack"),
    )
    .option(
      "--cache <mode>",
      "ts-node cache: cold (empty per run), warm (reused), edit (reused, index.ts changed)",
      cacheMode,
      "cold",
    )
    .option("--dir <path>", "project directory", process.cwd())
    .option("--no-scaling", "skip the scaling table")
    .option("--no-images", "skip the image cases (appSource start, no-change rebuild)")
    .option("--images-stack <stack>", "stack whose appSource the image cases use", "dev")
    .option(
      "--app-source <path>",
      "Panopticon checkout the stacks build from, and the rebuild builds (default: a fixture checkout in a temp dir; the rebuild: tests/fixtures/panopticon-src, built offline)",
    )
    .option(
      "--fixture-layout <layout>",
      `layout of the fixture checkout: ${FIXTURE_LAYOUTS.join(" or ")} (default: compose-era)`,
      fixtureLayout,
    )
    .option("--typecheck", "also time the full type-check (tsc) once", false)
    .option("--json", "print the results as JSON instead of tables", false)
    .option(
      "--no-project-defaults",
      "leave out Pulumi.yaml config defaults, which the CLI applies (only to diagnose a stack they break)",
    )
    .exitOverride()
    .parse(argv)
    .opts<Options>();
  if (opts.appSource !== undefined && opts.fixtureLayout !== undefined) {
    throw new BenchUsageError(
      "--app-source and --fixture-layout: expected one of them (a real checkout or a fixture), not both",
    );
  }
  const source = benchSource(opts.appSource, opts.fixtureLayout ?? "compose-era");
  try {
    await bench(opts, source);
  } finally {
    source.close();
  }
}

async function bench(opts: Options, source: BenchSource): Promise<void> {
  const read = readProject(opts.dir);
  const project = opts.projectDefaults ? read : { ...read, configDefaults: {} };
  const available = stackFiles(project.dir);
  const stacks = opts.stacks ?? available;
  for (const s of stacks) {
    if (!available.includes(s)) {
      throw new BenchUsageError(
        `--stacks: ${JSON.stringify(s)} has no Pulumi.${s}.yaml (known: ${available.join(", ") || "none"})`,
      );
    }
  }
  if (stacks.length === 0) throw new BenchUsageError(`no Pulumi.<stack>.yaml in ${project.dir}`);
  // The local stack, and the ECS runtime (a service there registers a dozen resources).
  const defaultScale = ["dev", "prod-ecs"].filter((s) => available.includes(s));
  const scaleStacks = opts.scaleStack ?? (defaultScale.length > 0 ? defaultScale : [stacks[0]]);
  for (const scaleStack of scaleStacks) {
    if (!available.includes(scaleStack)) {
      throw new BenchUsageError(
        `--scale-stack: ${JSON.stringify(scaleStack)} has no Pulumi.${scaleStack}.yaml`,
      );
    }
    if (opts.scaling) {
      // Refuse impossible service counts before spending minutes on the start-up runs.
      const base = readStackConfig(project.dir, scaleStack, source.dir);
      for (const n of opts.services) withServices(project, base, n);
    }
  }
  const progress = (line: string) => process.stderr.write(`${line}\n`);

  progress(
    `stacks with panopticon:appSource build from: ${source.what}; stacks with neither a checkout nor a release run its release, as promote would leave them`,
  );
  const startup = await measureStartup(
    project,
    source.dir,
    stacks,
    opts.runs,
    opts.cache,
    progress,
  );
  const scalings: Array<{ stack: string } & Awaited<ReturnType<typeof measureScaling>>> = [];
  for (const stack of opts.scaling ? scaleStacks : []) {
    const m = await measureScaling(
      project,
      source.dir,
      stack,
      opts.services,
      opts.runs,
      opts.cache,
      progress,
    );
    scalings.push({ stack, ...m });
  }
  const scaling = opts.scaling ? scalings : undefined;
  const typecheck = opts.typecheck ? measureTypecheck(project) : undefined;
  if (opts.images && !available.includes(opts.imagesStack)) {
    throw new BenchUsageError(
      `--images-stack: ${JSON.stringify(opts.imagesStack)} has no Pulumi.${opts.imagesStack}.yaml`,
    );
  }
  const images = opts.images
    ? await imageCases(
        project,
        source.dir,
        opts.appSource === undefined ? OFFLINE_BUILD_SOURCE : source.dir,
        opts.imagesStack,
        opts.runs,
        progress,
      )
    : undefined;

  const ratios = stacks.map((stack) => {
    const p = startup.find((r) => r.stack === stack && r.way === "project")!;
    const d = startup.find((r) => r.stack === stack && r.way === "default")!;
    return { stack, ratio: d.startMs / p.startMs };
  });
  if (!opts.projectDefaults) {
    progress("Pulumi.yaml config defaults left out (--no-project-defaults): not what the CLI does");
  }
  const machine = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown"}`,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };

  if (startup.some((r) => r.error)) process.exitCode = EXIT.problem;
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          machine,
          runs: opts.runs,
          cache: opts.cache,
          projectDefaults: opts.projectDefaults,
          appSource: source.what,
          startup,
          ratios,
          scaling,
          typecheck,
          images,
        },
        null,
        2,
      )}\n`,
    );
    return;
  }

  const out: string[] = [];
  out.push(
    `panopticon-infra bench — ${machine.date}, Node ${machine.node}, ${machine.cpus}, ` +
      `load ${machine.loadAverage.join(" ")}; ${opts.runs} runs per case, medians; ts-node cache ${opts.cache}; ` +
      `appSource: ${source.what}` +
      (opts.projectDefaults ? "" : "; WITHOUT Pulumi.yaml config defaults"),
  );
  out.push("");
  out.push("Start: process start → every resource registered (Pulumi mocks, dry run)");
  out.push(
    renderTable(
      [
        "stack",
        "way",
        "transpileOnly",
        "median ms",
        "min ms",
        "max ms",
        "registrations",
        "peak RSS MiB",
      ],
      startup.map((r) => [
        r.stack,
        r.way === "project" ? "project (Pulumi.yaml + tsconfig)" : "default (ts-node type-check)",
        r.error ? "-" : String(r.transpileOnly),
        r.error ? "FAILED" : ms(r.startMs),
        r.error ? "-" : ms(r.minMs),
        r.error ? "-" : ms(r.maxMs),
        r.error ? "-" : r.registrations,
        r.error ? "-" : mib(r.maxRssKb),
      ]),
    ),
  );
  out.push("");
  for (const r of startup.filter((x) => x.error)) {
    out.push(`${r.stack} ${r.way}: the program did not start: ${firstLines(r.error ?? "", 3)}`);
  }
  for (const { stack, ratio } of ratios) {
    if (Number.isNaN(ratio)) continue;
    out.push(
      `${stack}: the project's way starts ${times(ratio)} faster than the default ` +
        `(target ≥ ${TARGET_RATIO}×: ${ratio >= TARGET_RATIO ? "met" : "NOT met"})`,
    );
  }
  for (const scaling of scalings) {
    out.push("");
    out.push(
      `Scaling (${scaling.stack} + generated app services, project's way): ` +
        "program = entry point required → every registration finished; " +
        "registration = first registration sent → last answered",
    );
    out.push(
      renderTable(
        [
          "services",
          "registrations",
          "program ms",
          "ms/service",
          "registration ms",
          "ms/service",
          "peak RSS MiB",
        ],
        scaling.rows.map((r) => [
          r.services,
          r.registrations,
          ms(r.programMs),
          Number((r.programMs / r.services).toFixed(1)),
          ms(r.registrationMs),
          Number((r.registrationMs / r.services).toFixed(1)),
          mib(r.maxRssKb),
        ]),
      ),
    );
    for (const [what, l] of [
      ["program", scaling.program],
      ["registration", scaling.registration],
    ] as const) {
      out.push(
        `${what}: ${l.fit.slope.toFixed(1)} ms per added service + ${ms(l.fit.intercept)} ms; ` +
          `marginal ms/service ${l.marginal.map((m) => m.toFixed(1)).join(" → ")}; ` +
          `${l.linear ? "linear" : "SUPERLINEAR"} (${l.reason})`,
      );
    }
  }
  if (typecheck) {
    out.push("");
    out.push(
      `Type-check (tsc -p tsconfig.json --noEmit --noCheck false, as npm test runs it): ` +
        `${ms(typecheck.ms)} ms${typecheck.ok ? "" : " (reported errors)"}`,
    );
  }
  if (images) out.push("", ...formatImageCases(images));
  process.stdout.write(`${out.join("\n")}\n`);
}

function firstLines(s: string, n: number): string {
  return s.split("\n").slice(0, n).join(" | ");
}

main(process.argv).catch((e: unknown) => {
  const err = e as { code?: string; message?: string };
  if (err.code === "commander.helpDisplayed" || err.code === "commander.version") {
    process.exit(EXIT.ok);
  }
  if (err.code?.startsWith("commander.")) process.exit(EXIT.usage);
  process.stderr.write(`bench: ${err.message ?? String(e)}\n`);
  process.exit(e instanceof BenchUsageError ? EXIT.usage : EXIT.problem);
});
