import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { writeFixtureCheckout } from "../scripts/bench/fixture-checkout";
import { pulumiConfig, readProject, readStackConfig, withServices } from "../scripts/bench/project";
import { forgetCachedFile } from "../scripts/bench/measure";
import { ProgramStarter } from "../scripts/bench/runner";
import { PROJECT_DIR, runProgram } from "./support/harness";

/*
 * The benchmark's child process must run the same program and register the same
 * resources as the test harness does in-process; only then do its timings mean
 * anything. No timing is asserted here.
 */

jest.setTimeout(120_000);

const project = readProject(PROJECT_DIR);
const starter = new ProgramStarter();
const cacheDirs: string[] = [];
// The bench's own checkout, as `npm run bench` writes it: never the ../Argus next door.
const checkout = fs.mkdtempSync(path.join(os.tmpdir(), "bench-runner-checkout-"));
writeFixtureCheckout(checkout, "compose-era");
cacheDirs.push(checkout);
const devConfig = () => readStackConfig(PROJECT_DIR, "dev", checkout);
afterAll(() => {
  starter.close();
  for (const d of cacheDirs) fs.rmSync(d, { recursive: true, force: true });
});

function cacheDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "bench-runner-test-"));
  cacheDirs.push(d);
  return d;
}

async function harnessNames(stack: string, config: Record<string, string>): Promise<string[]> {
  const run = await runProgram({ stack, config, preview: true });
  if (run.error) throw run.error;
  return run.resources.map((r) => `${r.type}::${r.name}`).sort();
}

describe("ProgramStarter (child process started like Pulumi's launcher)", () => {
  it("registers exactly what the harness records for dev, plus the root Stack", async () => {
    const { config } = pulumiConfig(project, devConfig());
    const r = await starter.start({
      project,
      stack: "dev",
      config,
      way: "project",
      tsNodeCacheDir: cacheDir(),
      recordNames: true,
    });
    // Pulumi.yaml's way: no ts-node (sucrase's hook comes from nodeargs).
    expect(r.typescript).toBe(false);
    expect(r.transpileOnly).toBeNull();
    const names = [...(r.names ?? [])].sort();
    expect(names).toContain("pulumi:pulumi:Stack::panopticon-dev");
    expect(names.filter((n) => !n.startsWith("pulumi:pulumi:Stack::"))).toEqual(
      await harnessNames("dev", config),
    );
    expect(r.registrations).toBe(names.length);
    expect(r.allRegisteredMs).toBeGreaterThanOrEqual(r.lastRegistrationMs);
    expect(r.lastRegistrationMs).toBeGreaterThanOrEqual(r.firstRegistrationMs);
    expect(r.maxRssKb).toBeGreaterThan(0);
  });

  it("with generated services, registers what the harness records for the same config", async () => {
    const grown = withServices(project, devConfig(), 11);
    const { config } = pulumiConfig(project, grown);
    const r = await starter.start({
      project,
      stack: "dev",
      config,
      way: "project",
      tsNodeCacheDir: cacheDir(),
      recordNames: true,
    });
    const expected = await harnessNames("dev", config);
    expect(expected.filter((n) => n.includes("bench-svc-004")).length).toBeGreaterThan(0);
    expect(r.registrations).toBe(expected.length + 1);
  });

  it("default way: ts-node type-checks (transpileOnly false) and registers the same count", async () => {
    const { config } = pulumiConfig(project, devConfig());
    const [p, d] = await Promise.all(
      (["project", "default"] as const).map((way) =>
        starter.start({ project, stack: "dev", config, way, tsNodeCacheDir: cacheDir() }),
      ),
    );
    expect(d.transpileOnly).toBe(false);
    expect(d.registrations).toBe(p.registrations);
  });

  it("--cache edit: the entry point's entry in a real ts-node cache is found and dropped", async () => {
    // Only the default (ts-node) start has a cache; the project's way compiles in memory.
    const { config } = pulumiConfig(project, devConfig());
    const dir = cacheDir();
    expect(forgetCachedFile(dir, project.program)).toBe(0);
    await starter.start({ project, stack: "dev", config, way: "default", tsNodeCacheDir: dir });
    const entries = () => fs.readdirSync(dir).flatMap((d) => fs.readdirSync(path.join(dir, d)));
    const before = entries().length;
    expect(before).toBeGreaterThan(1);
    expect(forgetCachedFile(dir, project.program)).toBe(1);
    expect(entries()).toHaveLength(before - 1);
    // The next start compiles index.ts again and writes it back.
    await starter.start({ project, stack: "dev", config, way: "default", tsNodeCacheDir: dir });
    expect(entries()).toHaveLength(before);
  });

  it("reports a program that fails instead of a time (bad config names the key)", async () => {
    const { config } = pulumiConfig(project, {
      ...devConfig(),
      "panopticon:stopGraceSeconds": 5,
    });
    await expect(
      starter.start({ project, stack: "dev", config, way: "project", tsNodeCacheDir: cacheDir() }),
    ).rejects.toThrow(/project start of stack dev failed:[\s\S]*panopticon:stopGraceSeconds = 5/);
  });
});
