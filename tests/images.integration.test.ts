import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cliStackConfig, ProgramRun, runProgram } from "./support/harness";
import { docker, dockerAvailable, purgeAll } from "./support/docker-cli";
import { ReplayEngine } from "./support/replay-engine";

/*
 * Images built from a Panopticon-shaped checkout on the real Docker engine, through
 * the same replay the other real-engine tests use (tests/support/docker-cli.ts, here with
 * the engine's diff: tests/support/replay-engine.ts). No registry is reachable: every
 * dockerfile builds FROM a locally imported test image. The containers run the
 * built images; a second run with no change builds and replaces nothing; a
 * one-file change gives exactly that service a new image and a new container.
 */

jest.setTimeout(600_000);

const FIXTURE = path.join(__dirname, "fixtures", "panopticon-src");
const BASES = ["panopticon-test/busybox:1", "panopticon-test/postgres:15"];
const stack = `img${process.pid}`;
const SERVICES = [
  "evaluation-storage",
  "judge-service",
  "main-app",
  "model-registry",
  "postgres",
  "query-storage",
  "visualization-service",
];
const tagOf = (svc: string) => `panopticon-${stack}-${svc}:built`;
const containerOf = (svc: string) => `panopticon-${stack}-${svc}`;

let source = "";
const runs: ProgramRun[] = [];
const engine = new ReplayEngine((name) => {
  throw new Error(`${name}: no built image recorded for this container`);
});

async function program(): Promise<ProgramRun> {
  const run = await runProgram({
    stack,
    config: {
      ...cliStackConfig("dev"),
      "panopticon:appSource": source,
      "panopticon:stopGraceSeconds": 60,
      "panopticon:initImage": BASES[0],
      // The engine is shared: publish nothing.
      "panopticon:services": Object.fromEntries(SERVICES.map((s) => [s, { hostPort: false }])),
    },
    secrets: { postgresPassword: "it-images-123456" },
  });
  if (run.error) throw run.error;
  runs.push(run);
  return run;
}

const imageId = (ref: string) => docker(["image", "inspect", "--format", "{{.Id}}", ref]);
const runningImage = (svc: string) =>
  docker(["inspect", "--format", "{{.Image}}", containerOf(svc)]);
const served = (svc: string) =>
  docker(["exec", containerOf(svc), "wget", "-q", "-O", "-", "http://127.0.0.1:8000/version"]);

beforeAll(() => {
  if (!dockerAvailable()) throw new Error("no Docker engine: run `bash scripts/docker-setup.sh`");
  for (const img of BASES)
    if (docker(["image", "ls", "-q", img]) === "")
      throw new Error(`test image ${img} missing: run \`bash scripts/docker-setup.sh\``);
  source = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-src-"));
  fs.cpSync(FIXTURE, source, { recursive: true });
});

afterAll(() => {
  for (const r of runs.slice(-1)) purgeAll(r.resources);
  for (const svc of SERVICES) docker(["image", "rm", tagOf(svc)], { allowFail: true });
  if (source) fs.rmSync(source, { recursive: true, force: true });
});

test("build, run, rerun unchanged, change one file", async () => {
  // 1. First up: every service built from its compose dockerfile, every container on it.
  const first = engine.apply((await program()).resources);
  expect(first.built.sort()).toEqual(SERVICES.map(tagOf).sort());
  expect(first.createdContainers.sort()).toEqual(SERVICES.map(containerOf).sort());
  const ids = Object.fromEntries(SERVICES.map((s) => [s, imageId(tagOf(s))]));
  for (const svc of SERVICES) expect(runningImage(svc)).toBe(ids[svc]);
  for (const svc of SERVICES.filter((s) => s !== "postgres")) {
    expect(served(svc)).toBe(`${svc} 1`);
  }
  expect(
    docker(["exec", containerOf("postgres"), "cat", "/usr/share/panopticon-postgres-version"]),
  ).toBe("postgres 15 + pgvector stand-in 1");
  const started = Object.fromEntries(
    SERVICES.map((s) => [
      s,
      docker(["inspect", "--format", "{{.State.StartedAt}}", containerOf(s)]),
    ]),
  );

  // 2. The same checkout again: no build, no container replaced.
  const second = engine.apply((await program()).resources);
  expect(second.built).toEqual([]);
  expect(second.replacedContainers).toEqual([]);
  expect(second.createdContainers).toEqual([]);
  expect(second.unchangedContainers.sort()).toEqual(SERVICES.map(containerOf).sort());
  for (const svc of SERVICES)
    expect(docker(["inspect", "--format", "{{.State.StartedAt}}", containerOf(svc)])).toBe(
      started[svc],
    );

  // 3. One file of one service changes: only its image changes, only its container is replaced.
  fs.writeFileSync(path.join(source, "query_storage", "VERSION"), "query-storage 2\n");
  const third = engine.apply((await program()).resources);
  // Compose's context is the whole checkout, so each build resource runs again;
  // the unchanged ones are cache hits with the same image id.
  expect(third.changedImages).toEqual([tagOf("query-storage")]);
  expect(third.replacedContainers).toEqual([containerOf("query-storage")]);
  expect(third.unchangedContainers.sort()).toEqual(
    SERVICES.filter((s) => s !== "query-storage")
      .map(containerOf)
      .sort(),
  );
  expect(imageId(tagOf("query-storage"))).not.toBe(ids["query-storage"]);
  for (const svc of SERVICES.filter((s) => s !== "query-storage"))
    expect(imageId(tagOf(svc))).toBe(ids[svc]);
  expect(runningImage("query-storage")).toBe(imageId(tagOf("query-storage")));
  expect(served("query-storage")).toBe("query-storage 2");
});
