import { execFileSync, spawnSync } from "child_process";
import { buildContextHash } from "../../scripts/lib/context-hash";
import { RecordedResource } from "./harness";

/*
 * Replays what the program registered against a real Docker engine with the
 * docker CLI, the way pulumi-docker would create and delete it, so tests can
 * check that a destroy followed by an up really keeps and re-attaches the data.
 * Every container input the program uses must be translated here: an unknown
 * one fails the test instead of being silently dropped.
 */

export function docker(
  args: string[],
  opts: { allowFail?: boolean; input?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  const r = spawnSync("docker", args, {
    encoding: "utf8",
    input: opts.input,
    env: opts.env ? { ...process.env, ...opts.env } : undefined,
  });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`docker ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  }
  return (r.stdout ?? "").trim();
}

export function dockerAvailable(): boolean {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

type Inputs = Record<string, unknown>;

const HANDLED = new Set([
  "name",
  "image",
  "envs",
  "command",
  "restart",
  "stopSignal",
  "stopTimeout",
  "destroyGraceSeconds",
  "healthcheck",
  "wait",
  "waitTimeout",
  "logDriver",
  "logOpts",
  "ports",
  "networksAdvanced",
  "mounts",
  "volumes",
  "labels",
  "mustRun",
  "attach",
  "logs",
  "networkMode",
  "cpus",
  "memory",
]);

/** `docker create` arguments equivalent to a recorded docker.Container's inputs. */
export function containerCreateArgs(i: Inputs, image: string): string[] {
  const unknown = Object.keys(i).filter((k) => !HANDLED.has(k));
  if (unknown.length > 0) throw new Error(`container inputs not replayed: ${unknown.join(", ")}`);
  const a: string[] = ["create", "--name", String(i.name)];
  for (const e of (i.envs as string[] | undefined) ?? []) a.push("--env", e);
  if (i.restart) a.push("--restart", String(i.restart));
  if (i.stopSignal) a.push("--stop-signal", String(i.stopSignal));
  if (i.stopTimeout !== undefined) a.push("--stop-timeout", String(i.stopTimeout));
  const hc = i.healthcheck as
    | {
        tests: string[];
        interval?: string;
        timeout?: string;
        retries?: number;
        startPeriod?: string;
      }
    | undefined;
  if (hc) {
    // CMD runs its arguments directly; --health-cmd takes one line for the shell.
    if (hc.tests[0] === "CMD-SHELL") a.push("--health-cmd", hc.tests[1]);
    else if (hc.tests[0] === "CMD" && hc.tests.slice(1).every((t) => /^[\w./:=-]+$/.test(t)))
      a.push("--health-cmd", hc.tests.slice(1).join(" "));
    else throw new Error(`healthcheck ${JSON.stringify(hc.tests)} not replayed`);
    // Faster probes than configured, so the test does not wait 10 s per check.
    a.push("--health-interval", "1s", "--health-timeout", hc.timeout ?? "5s");
    a.push("--health-retries", String(hc.retries ?? 3), "--health-start-period", "1s");
  }
  if (i.cpus !== undefined) a.push("--cpus", String(i.cpus));
  if (i.memory !== undefined) a.push("--memory", `${Number(i.memory)}m`);
  if (i.logDriver) a.push("--log-driver", String(i.logDriver));
  for (const [k, v] of Object.entries((i.logOpts as Record<string, string>) ?? {}))
    a.push("--log-opt", `${k}=${v}`);
  for (const p of (i.ports as Array<Inputs> | undefined) ?? [])
    a.push("--publish", `${p.ip}:${p.external}:${p.internal}/${p.protocol ?? "tcp"}`);
  const nets = (i.networksAdvanced as Array<{ name: string; aliases?: string[] }>) ?? [];
  if (nets.length > 1) throw new Error("more than one network is not replayed");
  for (const n of nets) {
    a.push("--network", n.name);
    for (const alias of n.aliases ?? []) a.push("--network-alias", alias);
  }
  if (i.networkMode) a.push("--network", String(i.networkMode));
  for (const m of (i.mounts as Array<Inputs> | undefined) ?? [])
    a.push("--mount", `type=${m.type},source=${m.source},target=${m.target}`);
  for (const v of (i.volumes as Array<Inputs> | undefined) ?? [])
    a.push("--volume", `${v.hostPath}:${v.containerPath}`);
  for (const l of (i.labels as Array<{ label: string; value: string }> | undefined) ?? [])
    a.push("--label", `${l.label}=${l.value}`);
  a.push(image, ...((i.command as string[] | undefined) ?? []));
  return a;
}

export const BUILD_TYPE = "docker-build:index:Image";

const BUILD_HANDLED = new Set([
  "context",
  "dockerfile",
  "buildArgs",
  "buildOnPreview",
  "push",
  "load",
  "tags",
  "exports",
  "network",
]);

/**
 * `docker build` arguments equivalent to a recorded docker-build Image. This
 * machine has no buildx, so the replay uses the classic builder, which also never
 * looks for a base image in a registry. Pushing is not replayed: no registry is
 * reachable here (the mock tests check what a push would register).
 */
export function imageBuildArgs(i: Inputs): string[] {
  const unknown = Object.keys(i).filter((k) => !BUILD_HANDLED.has(k));
  if (unknown.length > 0) throw new Error(`image build inputs not replayed: ${unknown.join(", ")}`);
  const exports = (i.exports as unknown[] | undefined) ?? [];
  if (i.push === true || exports.length > 0) throw new Error("a push is not replayed");
  if (i.load !== true) throw new Error("an image that is not loaded is not replayed");
  const ctx = (i.context as { location: string }).location;
  const df = (i.dockerfile as { location: string } | undefined)?.location;
  const a = ["build", "--quiet"];
  // docker-build sends its default "default"; anything else is the RUN steps' network.
  if (i.network !== undefined && i.network !== "default") a.push("--network", String(i.network));
  if (df) a.push("--file", df);
  for (const t of (i.tags as string[] | undefined) ?? []) a.push("--tag", t);
  for (const [k, v] of Object.entries((i.buildArgs as Record<string, string>) ?? {}).sort())
    a.push("--build-arg", `${k}=${v}`);
  a.push(ctx);
  return a;
}

/** Builds a recorded Image with the classic builder; returns the image id. */
export function buildImage(i: Inputs): string {
  docker(imageBuildArgs(i), { env: { DOCKER_BUILDKIT: "0" } });
  const tag = ((i.tags as string[] | undefined) ?? [])[0];
  return docker(["image", "inspect", "--format", "{{.Id}}", tag]);
}

/** The replay's stand-in for docker-build's context hash (scripts/lib/context-hash.ts). */
export function contextHash(i: Inputs): string {
  return buildContextHash(
    (i.context as { location: string }).location,
    (i.dockerfile as { location?: string } | undefined)?.location,
  );
}

/**
 * The image name a recorded container runs: the name of the RemoteImage its
 * `image` input came from (found among its dependencies).
 */
export function remoteImageOf(
  resources: readonly RecordedResource[],
  containerName: string,
): string | undefined {
  const c = resources.find(
    (r) => r.type === "docker:index/container:Container" && r.plainInputs.name === containerName,
  );
  const img = resources.find(
    (r) => r.type === "docker:index/remoteImage:RemoteImage" && c?.dependencies.includes(r.urn),
  );
  return img ? String(img.plainInputs.name) : undefined;
}

/** Creates and starts one recorded container, as `up` does. */
export function createAndStart(i: Inputs, image: string): void {
  docker(containerCreateArgs(i, image));
  if (i.attach === true) {
    const code = docker(["start", "--attach", String(i.name)], { allowFail: true });
    const exit = docker(["inspect", "--format", "{{.State.ExitCode}}", String(i.name)]);
    if (exit !== "0") throw new Error(`${i.name} exited ${exit}: ${code}`);
  } else {
    docker(["start", String(i.name)]);
    if (i.wait === true) waitHealthy(String(i.name), Number(i.waitTimeout ?? 60) * 1000);
  }
}

export function waitHealthy(name: string, timeoutMs: number): void {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const state = docker(["inspect", "--format", "{{.State.Health.Status}}", name]);
    if (state === "healthy") return;
    if (Date.now() > until) {
      const logs = spawnSync("docker", ["logs", "--tail", "30", name], { encoding: "utf8" });
      throw new Error(`${name} is ${state} after ${timeoutMs} ms:\n${logs.stdout}${logs.stderr}`);
    }
    spawnSync("sleep", ["0.5"]);
  }
}

/**
 * The recorded networks and volumes, created as the provider does. A same-name volume
 * create returns the existing volume (that is how retained data is re-attached); an
 * existing network fails unless `existingNetworks` says a later apply may find it.
 */
export function createNetworksAndVolumes(
  resources: readonly RecordedResource[],
  existingNetworks: "fail" | "keep" = "fail",
): void {
  for (const n of resources.filter((r) => r.type === "docker:index/network:Network")) {
    const name = String(n.plainInputs.name);
    const exists =
      existingNetworks === "keep" &&
      docker(["network", "ls", "-q", "--filter", `name=^${name}$`]) !== "";
    if (!exists) docker(["network", "create", "--driver", String(n.plainInputs.driver), name]);
  }
  for (const v of resources.filter((r) => r.type === "docker:index/volume:Volume"))
    docker([
      "volume",
      "create",
      "--driver",
      String(v.plainInputs.driver),
      String(v.plainInputs.name),
    ]);
}

/**
 * `pulumi up` on an empty state: network, volumes, then containers in registration
 * order (one-shot initialisers run to completion, waited-for containers must turn
 * healthy). `images` maps each recorded RemoteImage name to a local test image.
 */
export function up(resources: readonly RecordedResource[], imageFor: (c: Inputs) => string): void {
  createNetworksAndVolumes(resources);
  for (const b of resources.filter((r) => r.type === BUILD_TYPE)) buildImage(b.plainInputs);
  for (const c of resources.filter((r) => r.type === "docker:index/container:Container")) {
    const i = c.plainInputs;
    createAndStart(i, imageFor(i));
  }
}

/**
 * `pulumi destroy`: deletes in reverse order every resource whose recorded options
 * do not retain it; retained ones are only forgotten, as the engine does.
 * Returns the names of what was kept.
 */
export function destroy(resources: readonly RecordedResource[]): string[] {
  const kept: string[] = [];
  for (const r of [...resources].reverse()) {
    const name = String(r.plainInputs.name);
    // Images are kept: RemoteImage has keepLocally, and a build is a cache, not data.
    if (!r.custom || r.type === "docker:index/remoteImage:RemoteImage" || r.type === BUILD_TYPE)
      continue;
    if (r.retainOnDelete || r.protect) {
      kept.push(name);
      continue;
    }
    if (r.type === "docker:index/container:Container") {
      const grace = String(r.plainInputs.destroyGraceSeconds ?? 10);
      docker(["stop", "--time", grace, name], { allowFail: true });
      docker(["rm", "--force", name]);
    } else if (r.type === "docker:index/network:Network") {
      docker(["network", "rm", name]);
    } else if (r.type === "docker:index/volume:Volume") {
      docker(["volume", "rm", "--force", name]);
    } else {
      throw new Error(`destroy of ${r.type} not replayed`);
    }
  }
  return kept;
}

/** Removes everything a test created, retained or not. */
export function purgeAll(resources: readonly RecordedResource[]): void {
  for (const r of [...resources].reverse()) {
    const name = String(r.plainInputs.name);
    if (r.type === "docker:index/container:Container")
      docker(["rm", "-f", name], { allowFail: true });
    if (r.type === "docker:index/network:Network")
      docker(["network", "rm", name], { allowFail: true });
    if (r.type === "docker:index/volume:Volume")
      docker(["volume", "rm", "-f", name], { allowFail: true });
    if (r.type === BUILD_TYPE)
      for (const t of (r.plainInputs.tags as string[] | undefined) ?? [])
        docker(["image", "rm", t], { allowFail: true });
  }
}

/** The local Postgres 15 test image (scripts/docker-setup.sh builds it). */
export const PG_TEST_IMAGE =
  process.env.PANOPTICON_TEST_POSTGRES_IMAGE ?? "panopticon-test/postgres:15";

/**
 * A throwaway Postgres on `mount` (`type=...,src=...`). An empty directory is
 * initialised as compose did (role postgres, database panopticon, and `password` for
 * host logins when given). Returns once the real server answers a query: pg_isready
 * answers during the entrypoint's init too.
 */
export function startFixturePostgres(name: string, mount: string, password?: string): void {
  docker([
    "run",
    "-d",
    "--name",
    name,
    "--mount",
    `${mount},dst=/var/lib/postgresql/data`,
    "-e",
    "POSTGRES_USER=postgres",
    "-e",
    "POSTGRES_DB=panopticon",
    ...(password === undefined ? [] : ["-e", `POSTGRES_PASSWORD=${password}`]),
    PG_TEST_IMAGE,
  ]);
  for (let i = 0; i < 120; i++) {
    const r = spawnSync(
      "docker",
      ["exec", name, "psql", "-X", "-U", "postgres", "-d", "panopticon", "-tAc", "SELECT 1"],
      { encoding: "utf8" },
    );
    if (r.status === 0 && r.stdout.trim() === "1") return;
    spawnSync("sleep", ["0.5"]);
  }
  const logs = spawnSync("docker", ["logs", name], { encoding: "utf8" });
  throw new Error(`postgres ${name} did not start:\n${logs.stdout}${logs.stderr}`);
}
