import { ChildProcess, spawn } from "child_process";
import { randomBytes } from "crypto";
import { Readable, Writable } from "stream";
import { pipeline } from "stream/promises";
import { EnvironmentError } from "./exit-codes";

/*
 * The real Docker CLI, spawned with argument arrays (never a shell string), so a
 * volume or container name can never be read as a shell word.
 */

/** The docker executable; overridable for machines where it is not on PATH. */
export const DOCKER = process.env.PANOPTICON_DOCKER ?? "docker";

/** Label put on every helper container, so leftovers can be found (`docker ps -a --filter label=...`). */
export const HELPER_LABEL = "io.panopticon.helper";

const live = new Map<ChildProcess, string | undefined>();

/**
 * Ends the docker processes still running (on Ctrl-C/SIGTERM). The clients are
 * killed first, which ends the attached streams: the daemon cannot kill a container
 * while its output waits for a reader. Helper containers are then removed by name,
 * since their tar runs as PID 1 and ignores a forwarded SIGTERM.
 */
export async function killChildren(): Promise<void> {
  const helpers: string[] = [];
  for (const [c, helper] of live) {
    c.kill("SIGKILL");
    if (helper !== undefined) helpers.push(helper);
  }
  await Promise.all(
    helpers.map(
      (name) =>
        new Promise<void>((resolve) => {
          const rm = spawn(DOCKER, ["rm", "-f", name], { stdio: "ignore" });
          rm.on("error", () => resolve());
          rm.on("close", () => resolve());
        }),
    ),
  );
}

export class DockerError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(
      `docker ${args.slice(0, 3).join(" ")}${args.length > 3 ? " ..." : ""} failed` +
        ` (exit ${exitCode ?? "signal"}): ${stderr.trim().split("\n").slice(-5).join(" | ") || "no error output"}`,
    );
    this.name = "DockerError";
  }
}

export interface RunOptions {
  /** Streamed to the process's stdin (string: written whole). */
  readonly input?: Readable | string;
  /** When given, stdout is piped here (with backpressure) instead of being captured. */
  readonly output?: Writable;
  /** Do not throw on a non-zero exit. */
  readonly allowFail?: boolean;
  /**
   * Variables added to the docker CLI's environment, e.g. a secret a helper takes with
   * `-e NAME` (no value on the command line). @default none
   */
  readonly env?: Readonly<Record<string, string>>;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `docker ...args`; throws DockerError on a non-zero exit unless allowFail. */
export async function docker(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const child = spawn(DOCKER, args, {
    ...(opts.env === undefined ? {} : { env: { ...process.env, ...opts.env } }),
    stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  const stdout = child.stdout as Readable;
  const stderr = child.stderr as Readable;
  const nameAt = args[0] === "run" ? args.indexOf("--name") : -1;
  live.set(child, nameAt > 0 ? args[nameAt + 1] : undefined);
  child.on("close", () => live.delete(child));
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stderr.on("data", (b: Buffer) => {
    if (err.length < 200) err.push(b);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", (e) =>
      reject(new Error(`cannot run "${DOCKER}": ${e.message} (is the Docker CLI installed?)`)),
    );
    child.on("close", (code) => resolve(code));
  });
  const work: Promise<unknown>[] = [exited];
  // An input still open when the process ends has nobody left to read it (psql stopped
  // at an error, say): ending it lets a source that waits for the process's output go.
  child.on("close", () => {
    if (opts.input instanceof Readable && !opts.input.readableEnded) opts.input.destroy();
  });
  if (opts.output !== undefined) {
    work.push(pipeline(stdout, opts.output));
  } else {
    stdout.on("data", (b: Buffer) => out.push(b));
  }
  if (opts.input !== undefined && child.stdin) {
    const stdin = child.stdin;
    if (typeof opts.input === "string") {
      stdin.end(opts.input);
    } else {
      // The reader may exit early (e.g. tar fails): EPIPE is then reported through the exit code.
      work.push(pipeline(opts.input, stdin).catch(() => undefined));
    }
  }
  try {
    await Promise.all(work);
  } catch (e) {
    child.kill("SIGTERM");
    throw e;
  }
  const code = await exited;
  const result = {
    code,
    stdout: Buffer.concat(out).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
  };
  if (code !== 0 && !opts.allowFail) throw new DockerError(args, code, result.stderr);
  return result;
}

/** Fails with a clear message when no engine answers. */
export async function assertEngine(): Promise<string> {
  const r = await docker(["info", "--format", "{{.ServerVersion}}"], { allowFail: true }).catch(
    (e: Error) => ({ code: 1, stdout: "", stderr: e.message }),
  );
  if (r.code !== 0) {
    throw new EnvironmentError(
      `no Docker engine answers (docker info: ${r.stderr.trim() || `exit ${r.code}`}); ` +
        `start dockerd (scripts/docker-setup.sh does) or set DOCKER_HOST`,
    );
  }
  return r.stdout.trim();
}

export async function volumeExists(name: string): Promise<boolean> {
  const r = await docker(["volume", "inspect", "--format", "{{.Name}}", name], { allowFail: true });
  return r.code === 0;
}

export interface ContainerInfo {
  readonly id: string;
  readonly name: string;
  readonly running: boolean;
  /** Image reference the container was created from. */
  readonly image: string;
  /** Image ID (sha256:...). */
  readonly imageId: string;
  readonly mounts: ReadonlyArray<{
    type: string;
    name?: string;
    source: string;
    destination: string;
  }>;
  readonly env: readonly string[];
}

interface InspectJson {
  Id: string;
  Name: string;
  Image: string;
  State: { Running: boolean };
  Config: { Image: string; Env?: string[] | null };
  Mounts?: Array<{ Type: string; Name?: string; Source: string; Destination: string }> | null;
}

function toInfo(j: InspectJson): ContainerInfo {
  return {
    id: j.Id,
    name: j.Name.replace(/^\//, ""),
    running: j.State.Running,
    image: j.Config.Image,
    imageId: j.Image,
    mounts: (j.Mounts ?? []).map((m) => ({
      type: m.Type,
      name: m.Name,
      source: m.Source,
      destination: m.Destination,
    })),
    env: j.Config.Env ?? [],
  };
}

/** Inspects one container by name; undefined when it does not exist. */
export async function inspectContainer(name: string): Promise<ContainerInfo | undefined> {
  const r = await docker(["container", "inspect", name], { allowFail: true });
  if (r.code !== 0) return undefined;
  const [j] = JSON.parse(r.stdout) as InspectJson[];
  return j === undefined ? undefined : toInfo(j);
}

/** Every container on the engine (running or not), inspected. */
export async function allContainers(): Promise<ContainerInfo[]> {
  const ids = (await docker(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
  if (ids.length === 0) return [];
  // Containers may vanish between ps and inspect; inspect prints the others and exits 1.
  const r = await docker(["container", "inspect", ...ids], { allowFail: true });
  const parsed = r.stdout.trim() === "" ? [] : (JSON.parse(r.stdout) as InspectJson[]);
  return parsed.map(toInfo);
}

/** Graceful stop: the container's stop signal, then SIGKILL after `timeoutSeconds`. */
export async function stopContainer(name: string, timeoutSeconds: number): Promise<void> {
  await docker(["stop", "--time", String(timeoutSeconds), name]);
}

export async function startContainer(name: string): Promise<void> {
  await docker(["start", name]);
}

/** Arguments of a throw-away helper container that mounts one data set at /data. */
export function helperRunArgs(opts: {
  readonly image: string;
  readonly mount: DataMount;
  readonly readOnly: boolean;
  readonly purpose: string;
  readonly interactive?: boolean;
  /** More `--mount` specifications, e.g. the backup directory. @default none */
  readonly extraMounts?: readonly string[];
  readonly command: readonly string[];
}): string[] {
  const m = opts.mount;
  if (/[,"\n]/.test(m.source)) {
    throw new Error(
      `data path ${JSON.stringify(m.source)}: expected a path without commas or quotes`,
    );
  }
  const mount =
    m.type === "volume"
      ? `type=volume,src=${m.source},dst=/data${opts.readOnly ? ",readonly" : ""},volume-nocopy`
      : `type=bind,src=${m.source},dst=/data${opts.readOnly ? ",readonly" : ""}`;
  return [
    "run",
    "--rm",
    "--name",
    `panopticon-helper-${opts.purpose}-${randomBytes(4).toString("hex")}`,
    ...(opts.interactive ? ["-i"] : []),
    // The stream must not be copied into the container log as well.
    "--log-driver",
    "none",
    "--network",
    "none",
    "--user",
    "0:0",
    "--label",
    `${HELPER_LABEL}=${opts.purpose}`,
    "--mount",
    mount,
    ...(opts.extraMounts ?? []).flatMap((m) => ["--mount", m]),
    "--entrypoint",
    "",
    opts.image,
    ...opts.command,
  ];
}

/** Where one data set lives: a named volume or a host directory. */
export interface DataMount {
  readonly type: "volume" | "bind";
  /** Volume name or absolute host path. */
  readonly source: string;
}

/** Containers that mount one of the given data mounts. */
export function containersUsing(
  containers: readonly ContainerInfo[],
  mount: DataMount,
): ContainerInfo[] {
  return containers.filter((c) =>
    c.mounts.some((m) =>
      mount.type === "volume"
        ? m.type === "volume" && m.name === mount.source
        : m.type === "bind" && m.source === mount.source,
    ),
  );
}

/** One SQL query through `psql` inside the stack's Postgres container; its unaligned output, trimmed. */
export async function psqlQuery(
  containerName: string,
  postgres: { readonly user: string; readonly database: string },
  sql: string,
): Promise<string> {
  const args = ["exec", containerName, "psql", "-U", postgres.user, "-d", postgres.database];
  return (await docker([...args, "-tAc", sql])).stdout.trim();
}
