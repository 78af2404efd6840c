import * as fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import { withAppImages } from "./support/app-images";
import {
  BenchUsageError,
  benchServiceName,
  ProjectInfo,
  pulumiConfig,
  readProject,
  runtimeOptions,
  splitArgs,
  stackFiles,
  withServices,
} from "../scripts/bench/project";
import { transform } from "sucrase";
import { launchFor } from "../scripts/bench/runner";
import { linearFit, linearity, marginalCosts, median } from "../scripts/bench/stats";
import { mib, renderTable } from "../scripts/bench/table";
import { parseSettings, rawFromPulumiConfig } from "../components/config/settings";
import { PROJECT_DIR } from "./support/harness";

// The launcher's own tsconfig reader (what `pulumi up` uses to decide transpileOnly).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const tsutils = require("@pulumi/pulumi/tsutils") as {
  loadTypeScriptCompilerOptions(p: string): Record<string, unknown>;
};

describe("median", () => {
  it("takes the middle value, or the mean of the two middle values", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
  it("refuses an empty list and non-finite values", () => {
    expect(() => median([])).toThrow(/empty/);
    expect(() => median([1, NaN])).toThrow(/finite/);
  });
  it("lies between min and max and ignores order (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e6, max: 1e6 }), { minLength: 1 }), (xs) => {
        const m = median(xs);
        expect(m).toBeGreaterThanOrEqual(Math.min(...xs));
        expect(m).toBeLessThanOrEqual(Math.max(...xs));
        expect(median([...xs].reverse())).toBe(m);
      }),
    );
  });
});

describe("linearFit", () => {
  it("recovers slope and intercept of points on a line, R² 1", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: -1000, max: 1000 }),
        (slope, intercept) => {
          const xs = [5, 50, 200, 7];
          const fit = linearFit(
            xs,
            xs.map((x) => intercept + slope * x),
          );
          expect(fit.slope).toBeCloseTo(slope, 6);
          expect(fit.intercept).toBeCloseTo(intercept, 6);
          expect(fit.r2).toBeCloseTo(1, 9);
        },
      ),
    );
  });
  it("gives R² well below 1 for scattered points", () => {
    expect(linearFit([1, 2, 3, 4], [10, 0, 10, 0]).r2).toBeLessThan(0.5);
  });
  it("refuses mismatched lengths and a single x", () => {
    expect(() => linearFit([1, 2], [1])).toThrow(/2 x values but 1 y values/);
    expect(() => linearFit([3, 3], [1, 2])).toThrow(/two different x/);
  });
});

describe("linearity", () => {
  const ns = [5, 50, 200];
  it("marginal costs are the slopes between consecutive points, whatever the input order", () => {
    expect(marginalCosts([200, 5, 50], [2000, 50, 500])).toEqual([10, 10]);
  });
  it("compliant: linear growth with noise passes", () => {
    const l = linearity(ns, [1000 + 40 * 5 + 3, 1000 + 40 * 50 - 20, 1000 + 40 * 200 + 15]);
    expect(l.linear).toBe(true);
    expect(l.growth).toBeGreaterThan(0.8);
    expect(l.growth).toBeLessThan(1.2);
  });
  it("non-compliant: quadratic growth (an O(N) step per service) is flagged", () => {
    const l = linearity(
      ns,
      ns.map((n) => 1000 + 40 * n + 0.5 * n * n),
    );
    expect(l.linear).toBe(false);
    expect(l.reason).toMatch(/cost per added service grew/);
  });
  it("non-compliant: points far off any line are flagged by R²", () => {
    const l = linearity([5, 50, 100, 200], [100, 5000, 100, 5000]);
    expect(l.linear).toBe(false);
    expect(l.reason).toMatch(/R²/);
  });
});

describe("splitArgs (nodeargs)", () => {
  it("splits on whitespace and honours quotes and escapes", () => {
    expect(splitArgs(`--max-old-space-size=4096  --require "a b" 'c d' e\\ f`)).toEqual([
      "--max-old-space-size=4096",
      "--require",
      "a b",
      "c d",
      "e f",
    ]);
    expect(splitArgs("")).toEqual([]);
    expect(splitArgs(`""`)).toEqual([""]);
  });
  it("names the value of an unterminated quote", () => {
    expect(() => splitArgs(`--require "x`)).toThrow(/nodeargs = .*unterminated/);
  });
});

describe("runtimeOptions", () => {
  it("defaults: a bare `runtime: nodejs` type-script-enables the launcher, no node args", () => {
    expect(runtimeOptions({ runtime: "nodejs" })).toEqual({
      typescript: true,
      nodeargs: [],
      tsconfig: undefined,
    });
  });
  it("reads typescript, nodeargs and tsconfig", () => {
    expect(
      runtimeOptions({
        runtime: {
          name: "nodejs",
          options: { typescript: false, nodeargs: "--a --b", tsconfig: "tsconfig.pulumi.json" },
        },
      }),
    ).toEqual({ typescript: false, nodeargs: ["--a", "--b"], tsconfig: "tsconfig.pulumi.json" });
  });
  it("refuses other runtimes and mistyped options, naming the key and value", () => {
    expect(() => runtimeOptions({ runtime: "python" })).toThrow(/runtime = "python"/);
    expect(() =>
      runtimeOptions({ runtime: { name: "nodejs", options: { typescript: "yes" } } }),
    ).toThrow(/runtime\.options\.typescript = "yes": expected true or false/);
    expect(() => runtimeOptions({ runtime: { name: "nodejs", options: { nodeargs: 3 } } })).toThrow(
      BenchUsageError,
    );
  });
});

describe("the project's start settings (what `pulumi up` does without any env var)", () => {
  const project = readProject(PROJECT_DIR);

  it("Pulumi.yaml: no ts-node; Node loads index.ts through sucrase, its own stripping off", () => {
    expect(project.runtime.typescript).toBe(false);
    expect(project.runtime.nodeargs).toEqual([
      "--no-experimental-strip-types",
      "--require",
      "sucrase/register/ts",
    ]);
    expect(project.program).toBe(path.join(PROJECT_DIR, "index.ts"));
    // The hook is a runtime dependency: `pulumi up` needs it, not only the tests.
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8"));
    expect(pkg.dependencies.sucrase).toBeDefined();
  });

  it("compliant: the hook keeps line numbers, so stack traces need no source maps", () => {
    const src = fs.readFileSync(
      path.join(PROJECT_DIR, "components", "config", "settings.ts"),
      "utf8",
    );
    const out = transform(src, { transforms: ["imports", "typescript"] }).code;
    const line = (text: string, needle: string) =>
      text.split("\n").findIndex((l) => l.includes(needle));
    // Needles without an imported name: the hook rewrites those (`_problems.ConfigError`).
    for (const needle of ["export function parseSettings(", "(ctx.stack, problems)"]) {
      const srcLine = line(src, needle);
      expect(srcLine).toBeGreaterThan(0);
      expect(line(out, needle.replace("export function ", "function "))).toBe(srcLine);
    }
  });

  it("non-compliant: TypeScript's own transpile (what ts-node emits) moves lines", () => {
    const src = fs.readFileSync(
      path.join(PROJECT_DIR, "components", "config", "settings.ts"),
      "utf8",
    );
    const out = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const line = (text: string, needle: string) =>
      text.split("\n").findIndex((l) => l.includes(needle));
    expect(line(out, "ConfigError(ctx.stack")).not.toBe(line(src, "ConfigError(ctx.stack"));
  });

  it("isolatedModules: every file must compile on its own, as a per-file hook compiles it", () => {
    const opts = tsutils.loadTypeScriptCompilerOptions(path.join(PROJECT_DIR, "tsconfig.json"));
    expect(opts.isolatedModules).toBe(true);
  });

  it("npm test still type-checks everything (noCheck is turned off for tsc)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8"));
    expect(pkg.scripts.typecheck).toMatch(/tsc .*--noCheck false/);
    expect(pkg.scripts.test).toMatch(/npm run typecheck/);
  });

  it("launchFor: the project's way is the launcher's defaults plus Pulumi.yaml, nothing inherited", () => {
    const saved = process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
    process.env.PULUMI_NODEJS_TRANSPILE_ONLY = "true";
    try {
      const p = launchFor("project", project.runtime);
      expect(p.execArgv).toEqual(project.runtime.nodeargs);
      expect(p.env.PULUMI_NODEJS_TYPESCRIPT).not.toBe("true");
      expect("PULUMI_NODEJS_TRANSPILE_ONLY" in p.env).toBe(true);
      expect(p.env.PULUMI_NODEJS_TRANSPILE_ONLY).toBeUndefined();
      const d = launchFor("default", { typescript: false, nodeargs: ["--x"] });
      expect(d.execArgv).toEqual([]);
      expect(d.env.PULUMI_NODEJS_TYPESCRIPT).toBe("true");
      expect(d.env.PULUMI_NODEJS_TRANSPILE_ONLY).toBe("false");
    } finally {
      if (saved === undefined) delete process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
      else process.env.PULUMI_NODEJS_TRANSPILE_ONLY = saved;
    }
  });
});

describe("stack config as the CLI hands it to the program", () => {
  const project: ProjectInfo = {
    dir: "/p",
    name: "panopticon",
    runtime: { typescript: true, nodeargs: [] },
    program: "/p/index.ts",
    configDefaults: { "panopticon:environment": "local", "panopticon:stopGraceSeconds": 90 },
  };

  it("overlays stack values on project defaults, namespaces keys, JSON-encodes structures", () => {
    const { config, skippedSecrets } = pulumiConfig(project, {
      "panopticon:stopGraceSeconds": 120,
      storageMode: "bind",
      "panopticon:services": { postgres: { image: "postgres:16" } },
      "aws:region": "eu-west-1",
      "panopticon:postgresPassword": { secure: "v1:abc" },
    });
    expect(config).toEqual({
      "panopticon:environment": "local",
      "panopticon:stopGraceSeconds": "120",
      "panopticon:storageMode": "bind",
      "panopticon:services": '{"postgres":{"image":"postgres:16"}}',
      "aws:region": "eu-west-1",
    });
    expect(skippedSecrets).toEqual(["panopticon:postgresPassword"]);
  });

  it("withServices adds valid app services, each with a data set, up to the total", () => {
    // A stack without a checkout: the compose era's release gives its layout, the
    // images are pinned (withAppImages gives both).
    const stack = withAppImages({
      services: { "judge-service": { env: { LOG_LEVEL: "debug" } } },
    });
    const base = { "panopticon:services": stack.services, "panopticon:release": stack.release };
    const grown = withServices(project, base, 12);
    const { config } = pulumiConfig(project, grown);
    const settings = parseSettings(rawFromPulumiConfig(config), { stack: "dev", baseDir: "/p" });
    expect(settings.services).toHaveLength(12);
    // The catalogue's five data sets and one per added service.
    expect(settings.dataSets).toHaveLength(10);
    const added = settings.services.filter((s) => s.name.startsWith("bench-svc-"));
    expect(added.map((s) => s.name)).toEqual(
      Array.from({ length: 5 }, (_, i) => benchServiceName(i + 1)),
    );
    expect(added.every((s) => s.hostPort === false && s.dataSet !== undefined)).toBe(true);
    // The configured override is kept.
    expect(settings.services.find((s) => s.name === "judge-service")?.env).toContainEqual([
      "LOG_LEVEL",
      "debug",
    ]);
    expect(withServices(project, base, 7)).toEqual(base);
  });

  it("withServices refuses fewer services than the stack has, naming --services", () => {
    expect(() => withServices(project, {}, 4)).toThrow(
      /--services: 4 is fewer than the 7 services .*≥ 7/,
    );
    expect(() => withServices(project, { "panopticon:services": "x" }, 9)).toThrow(
      /panopticon:services = "x": expected a mapping/,
    );
  });

  it("stackFiles lists dev, then prod, then the rest", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-stacks-"));
    try {
      for (const f of ["Pulumi.yaml", "Pulumi.b.yaml", "Pulumi.prod.yaml", "Pulumi.dev.yaml"]) {
        fs.writeFileSync(path.join(dir, f), "config: {}\n");
      }
      expect(stackFiles(dir)).toEqual(["dev", "prod", "b"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("renderTable", () => {
  it("pads columns, right-aligns numeric ones and their header", () => {
    expect(
      renderTable(
        ["stack", "ms"],
        [
          ["dev", 950],
          ["prod", 12],
        ],
      ),
    ).toBe(["stack   ms", "-----  ---", "dev    950", "prod    12"].join("\n"));
  });
  it("refuses a row with the wrong number of cells", () => {
    expect(() => renderTable(["a", "b"], [["x"]])).toThrow(/1 cells, header has 2/);
  });
  it("mib turns KiB into MiB with one decimal", () => {
    expect(mib(2048)).toBe(2);
    expect(mib(1536 + 51)).toBe(1.5);
  });
});

describe("renderTable placeholders", () => {
  it("keeps a numeric column right-aligned when a failed row shows - or FAILED", () => {
    expect(
      renderTable(
        ["stack", "ms"],
        [
          ["dev", 950],
          ["prod", "FAILED"],
        ],
      ),
    ).toBe(["stack      ms", "-----  ------", "dev       950", "prod   FAILED"].join("\n"));
  });
  it("a text column stays left-aligned", () => {
    expect(renderTable(["a"], [["x"], ["-"]])).toBe(["a", "-", "x", "-"].join("\n"));
  });
});
