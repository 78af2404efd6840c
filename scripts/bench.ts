import { InvalidArgumentError } from "commander";
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
import { parseOptions, run, toolCommand } from "./lib/cli";
import { EXIT } from "./lib/exit-codes";
import { STACK_NAME } from "./lib/stack-file";

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
    if (parts.some((p) => !STACK_NAME.test(p))) {
      throw new InvalidArgumentError(
        `${option} = ${JSON.stringify(v)}: expected comma-separated Pulumi stack names (letters, digits, _ . -, each starting with a letter or digit), e.g. dev,prod`,
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

function command() {
  return toolCommand("bench", "Program start time and registration scaling under Pulumi's mocks")
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
    );
}

async function main(): Promise<number> {
  const opts = parseOptions<Options>(command());
  if (opts.appSource !== undefined && opts.fixtureLayout !== undefined) {
    throw new BenchUsageError(
      "--app-source and --fixture-layout: expected one of them (a real checkout or a fixture), not both",
    );
  }
  const source = benchSource(opts.appSource, opts.fixtureLayout ?? "compose-era");
  try {
    return await bench(opts, source);
  } finally {
    source.close();
  }
}

type Project = ReturnType<typeof readProject>;

/** The stacks to start and to scale, every name checked before minutes are spent. */
function chooseStacks(
  opts: Options,
  project: Project,
  source: BenchSource,
): { stacks: string[]; scaleStacks: string[] } {
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
  return { stacks, scaleStacks };
}

type Startup = Awaited<ReturnType<typeof measureStartup>>;
type Scaling = { stack: string } & Awaited<ReturnType<typeof measureScaling>>;
type Images = Awaited<ReturnType<typeof imageCases>>;

interface Results {
  readonly machine: { date: string; node: string; cpus: string; loadAverage: number[] };
  readonly startup: Startup;
  readonly ratios: Array<{ stack: string; ratio: number }>;
  readonly scalings: Scaling[];
  readonly typecheck?: ReturnType<typeof measureTypecheck>;
  readonly images?: Images;
}

/** Every measurement the options ask for, in the order the report prints them. */
async function measure(opts: Options, source: BenchSource): Promise<Results> {
  const read = readProject(opts.dir);
  const project = opts.projectDefaults ? read : { ...read, configDefaults: {} };
  const { stacks, scaleStacks } = chooseStacks(opts, project, source);
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
  const scalings: Scaling[] = [];
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
  const typecheck = opts.typecheck ? measureTypecheck(project) : undefined;
  if (opts.images && !stackFiles(project.dir).includes(opts.imagesStack)) {
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
  return { machine, startup, ratios, scalings, typecheck, images };
}

/** Exit 1 when a program did not start; the report is printed either way. */
async function bench(opts: Options, source: BenchSource): Promise<number> {
  const r = await measure(opts, source);
  const code = r.startup.some((x) => x.error) ? EXIT.problem : EXIT.ok;
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          machine: r.machine,
          runs: opts.runs,
          cache: opts.cache,
          projectDefaults: opts.projectDefaults,
          appSource: source.what,
          startup: r.startup,
          ratios: r.ratios,
          scaling: opts.scaling ? r.scalings : undefined,
          typecheck: r.typecheck,
          images: r.images,
        },
        null,
        2,
      )}\n`,
    );
    return code;
  }
  const out = [
    `panopticon-infra bench — ${r.machine.date}, Node ${r.machine.node}, ${r.machine.cpus}, ` +
      `load ${r.machine.loadAverage.join(" ")}; ${opts.runs} runs per case, medians; ts-node cache ${opts.cache}; ` +
      `appSource: ${source.what}` +
      (opts.projectDefaults ? "" : "; WITHOUT Pulumi.yaml config defaults"),
    "",
    ...startupSection(r),
    ...r.scalings.flatMap(scalingSection),
  ];
  if (r.typecheck) {
    out.push("");
    out.push(
      `Type-check (tsc -p tsconfig.json --noEmit --noCheck false, as npm test runs it): ` +
        `${ms(r.typecheck.ms)} ms${r.typecheck.ok ? "" : " (reported errors)"}`,
    );
  }
  if (r.images) out.push("", ...formatImageCases(r.images));
  process.stdout.write(`${out.join("\n")}\n`);
  return code;
}

function startupSection(r: Results): string[] {
  const out: string[] = [];
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
      r.startup.map((x) => [
        x.stack,
        x.way === "project" ? "project (Pulumi.yaml + tsconfig)" : "default (ts-node type-check)",
        x.error ? "-" : String(x.transpileOnly),
        x.error ? "FAILED" : ms(x.startMs),
        x.error ? "-" : ms(x.minMs),
        x.error ? "-" : ms(x.maxMs),
        x.error ? "-" : x.registrations,
        x.error ? "-" : mib(x.maxRssKb),
      ]),
    ),
  );
  out.push("");
  for (const x of r.startup.filter((y) => y.error)) {
    out.push(`${x.stack} ${x.way}: the program did not start: ${firstLines(x.error ?? "", 3)}`);
  }
  for (const { stack, ratio } of r.ratios) {
    if (Number.isNaN(ratio)) continue;
    out.push(
      `${stack}: the project's way starts ${times(ratio)} faster than the default ` +
        `(target ≥ ${TARGET_RATIO}×: ${ratio >= TARGET_RATIO ? "met" : "NOT met"})`,
    );
  }
  return out;
}

function scalingSection(scaling: Scaling): string[] {
  const out: string[] = [""];
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
      scaling.rows.map((x) => [
        x.services,
        x.registrations,
        ms(x.programMs),
        Number((x.programMs / x.services).toFixed(1)),
        ms(x.registrationMs),
        Number((x.registrationMs / x.services).toFixed(1)),
        mib(x.maxRssKb),
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
  return out;
}

function firstLines(s: string, n: number): string {
  return s.split("\n").slice(0, n).join(" | ");
}

run("bench", main);
