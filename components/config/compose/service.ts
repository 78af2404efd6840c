import { interpolate } from "./interpolate";
import type { RawService } from "./schema";
import type { ComposeHealthcheck, ComposeService, EnvEntry, Restart } from "./types";
import { durationSeconds, memoryMb, parsePort, parseVolume } from "./units";

/*
 * One compose service, read key by key into its typed form (components/config/compose/types.ts).
 * Every value the program cannot translate is a problem naming the service, the key
 * and what to write instead.
 */

const RESTARTS = new Set(["no", "always", "on-failure", "unless-stopped"]);

/** Interpolates one scalar field; an unresolved variable there is a problem. */
function plain(value: string, at: string, problems: string[]): string | undefined {
  try {
    const r = interpolate(value);
    if (r.unresolved.length > 0) {
      problems.push(
        `${at} = ${JSON.stringify(value)}: \${${r.unresolved[0]}} has no default here; the program reads no shell or .env: write the value, or give a default (\${${r.unresolved[0]}:-value})`,
      );
      return undefined;
    }
    return r.value;
  } catch (e) {
    problems.push(`${at}: ${(e as Error).message}`);
    return undefined;
  }
}

function envEntries(raw: RawService["environment"], at: string, problems: string[]): EnvEntry[] {
  const pairs: Array<[string, string]> = Array.isArray(raw)
    ? raw.map((line) => {
        const eq = line.indexOf("=");
        // `- KEY` alone passes the shell's value: the same as `KEY=${KEY}`.
        return eq < 0
          ? [line.trim(), `\${${line.trim()}}`]
          : [line.slice(0, eq).trim(), line.slice(eq + 1)];
      })
    : Object.entries(raw ?? {}).map(([k, v]) => [k, v === null ? `\${${k}}` : String(v)]);
  const out: EnvEntry[] = [];
  for (const [key, value] of pairs) {
    try {
      // Compose keeps a value's surrounding spaces except at the end of a list line.
      const rawValue = Array.isArray(raw) ? value.trimEnd() : value;
      out.push({ key, raw: rawValue, value: interpolate(rawValue) });
    } catch (e) {
      problems.push(`${at}.${key}: ${(e as Error).message}`);
    }
  }
  return out;
}

function readBuild(
  raw: RawService["build"],
  at: (key: string) => string,
  problems: string[],
): ComposeService["build"] {
  if (raw === undefined) return undefined;
  if (typeof raw === "string") return { context: raw, dockerfile: "Dockerfile", args: {} };
  const args = envEntries(raw.args, at("build.args"), problems);
  return {
    context: raw.context ?? ".",
    dockerfile: raw.dockerfile ?? "Dockerfile",
    args: Object.fromEntries(args.map((e) => [e.key, e.value.value])),
  };
}

/** Each item parsed on its own; one that fails is a problem naming its index. */
function eachOf<I, T>(
  items: readonly I[] | undefined,
  parse: (item: I) => T | string,
  at: (i: number) => string,
  problems: string[],
): T[] {
  return (items ?? []).flatMap((item, i) => {
    const r = parse(item);
    if (typeof r === "string") {
      problems.push(`${at(i)} = ${JSON.stringify(item)}: ${r}`);
      return [];
    }
    return [r];
  });
}

function exposedPort(p: string | number): number | string {
  const n = Number(String(p).replace(/\/tcp$/, ""));
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : "expected one container port";
}

function readLimits(
  raw: RawService["deploy"],
  at: (key: string) => string,
  problems: string[],
): ComposeService["limits"] {
  const lim = raw?.resources?.limits;
  const cpus = lim?.cpus === undefined ? undefined : Number(lim.cpus);
  if (cpus !== undefined && !(cpus > 0)) {
    problems.push(
      `${at("deploy.resources.limits.cpus")} = ${JSON.stringify(lim?.cpus)}: expected a positive number of CPUs`,
    );
  }
  const memory = lim?.memory === undefined ? undefined : memoryMb(lim.memory);
  if (typeof memory === "string") {
    problems.push(
      `${at("deploy.resources.limits.memory")} = ${JSON.stringify(lim?.memory)}: ${memory}`,
    );
  }
  return { cpus, memoryMb: typeof memory === "number" ? memory : undefined };
}

export function readService(
  name: string,
  raw: RawService,
  at: (key: string) => string,
  problems: string[],
): ComposeService | undefined {
  const before = problems.length;
  const build = readBuild(raw.build, at, problems);
  const image = raw.image === undefined ? undefined : plain(raw.image, at("image"), problems);
  const ports = eachOf(
    raw.ports,
    (p) => parsePort(typeof p === "object" ? p : String(p)),
    (i) => at(`ports[${i}]`),
    problems,
  );
  const expose = eachOf(raw.expose, exposedPort, (i) => at(`expose[${i}]`), problems);
  const volumes = eachOf(raw.volumes, parseVolume, (i) => at(`volumes[${i}]`), problems);
  const dependsOn = readDependsOn(raw.depends_on, at, problems);
  const healthcheck = readHealthcheck(raw.healthcheck, at, problems);
  if (raw.restart !== undefined && !RESTARTS.has(raw.restart)) {
    problems.push(
      `${at("restart")} = ${JSON.stringify(raw.restart)}: expected no, always, on-failure or unless-stopped`,
    );
  }
  const limits = readLimits(raw.deploy, at, problems);
  if (typeof raw.command === "string") {
    problems.push(
      `${at("command")} = ${JSON.stringify(raw.command)}: write the command as a list (["prog", "arg"]); the program does not split strings as a shell would`,
    );
  }
  if (problems.length > before) return undefined;
  return {
    name,
    image,
    build,
    ports,
    expose,
    volumes,
    environment: envEntries(raw.environment, at("environment"), problems),
    dependsOn,
    healthcheck,
    restart: raw.restart as Restart | undefined,
    limits,
    command: Array.isArray(raw.command) ? raw.command : undefined,
    stopSignal: raw.stop_signal,
  };
}

function readDependsOn(
  raw: RawService["depends_on"],
  at: (key: string) => string,
  problems: string[],
): ComposeService["dependsOn"] {
  if (raw === undefined) return [];
  if (Array.isArray(raw)) return raw.map((service) => ({ service, condition: "service_started" }));
  return Object.entries(raw).flatMap(([service, d]) => {
    const condition = d.condition ?? "service_started";
    if (condition !== "service_started" && condition !== "service_healthy") {
      problems.push(
        `${at(`depends_on.${service}.condition`)} = ${JSON.stringify(condition)}: expected service_started or service_healthy (the program runs no one-off services)`,
      );
      return [];
    }
    if (d.required === false) {
      problems.push(
        `${at(`depends_on.${service}.required`)} = false: every dependency is required here; remove the line`,
      );
      return [];
    }
    return [{ service, condition }];
  });
}

function readHealthcheck(
  raw: RawService["healthcheck"],
  at: (key: string) => string,
  problems: string[],
): ComposeHealthcheck | undefined {
  if (raw === undefined) return undefined;
  if (raw.disable) {
    problems.push(
      `${at("healthcheck.disable")} = true: every service needs a healthcheck here (dependants wait on it)`,
    );
    return undefined;
  }
  const test = typeof raw.test === "string" ? ["CMD-SHELL", raw.test] : raw.test;
  if (test === undefined || test.length === 0 || test[0] === "NONE") {
    problems.push(
      `${at("healthcheck.test")} = ${JSON.stringify(raw.test)}: expected a command, e.g. ["CMD", "curl", "-f", "http://localhost:8000/health"]`,
    );
    return undefined;
  }
  const secs = (k: "interval" | "timeout" | "start_period") => {
    const v = raw[k];
    if (v === undefined) return undefined;
    const s = durationSeconds(v);
    if (typeof s === "string")
      problems.push(`${at(`healthcheck.${k}`)} = ${JSON.stringify(v)}: ${s}`);
    return typeof s === "number" ? s : undefined;
  };
  return {
    test,
    intervalSeconds: secs("interval"),
    timeoutSeconds: secs("timeout"),
    retries: raw.retries,
    startPeriodSeconds: secs("start_period"),
  };
}
