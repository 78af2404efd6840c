import type * as Yaml from "yaml";
import { interpolate, Interpolated } from "./interpolate";
import { composeSchema, RawService, serviceSchema, SUPPORTED_SERVICE_KEYS } from "./schema";
import { durationSeconds, memoryMb, parsePort, parseVolume, Port, Volume } from "./units";
import { SERVICE_NAME, SERVICE_NAME_HINT } from "../naming";

/*
 * A checkout's docker-compose.yml, read and validated into typed services. What the
 * program cannot translate faithfully is a problem naming the service, the key and
 * what to do; the policy on top (components/config/catalogue.ts) decides what the values
 * mean for data, secrets and the database.
 */

export type { Port, Volume };

export interface EnvEntry {
  readonly key: string;
  /** As written in compose, before interpolation. */
  readonly raw: string;
  readonly value: Interpolated;
}

export interface ComposeHealthcheck {
  readonly test: readonly string[];
  readonly intervalSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly retries?: number;
  readonly startPeriodSeconds?: number;
}

export type Restart = "no" | "always" | "on-failure" | "unless-stopped";

export interface ComposeService {
  readonly name: string;
  readonly image?: string;
  readonly build?: {
    readonly context: string;
    readonly dockerfile: string;
    readonly args: Readonly<Record<string, string>>;
  };
  readonly ports: readonly Port[];
  readonly expose: readonly number[];
  readonly volumes: readonly Volume[];
  readonly environment: readonly EnvEntry[];
  readonly dependsOn: ReadonlyArray<{
    readonly service: string;
    readonly condition: "service_started" | "service_healthy";
  }>;
  readonly healthcheck?: ComposeHealthcheck;
  readonly restart?: Restart;
  readonly limits: { readonly cpus?: number; readonly memoryMb?: number };
  readonly command?: readonly string[];
  readonly stopSignal?: string;
}

export interface ComposeFile {
  /** Where it was read from, for messages (`../Argus/docker-compose.yml`, `panopticon:release.compose`). */
  readonly origin: string;
  readonly services: readonly ComposeService[];
  /** Top-level `volumes:`: name → the external name when `external: true`. */
  readonly volumes: Readonly<Record<string, { readonly external?: string }>>;
}

/** Keys the program refuses by name, with why; every other unknown key gets the generic hint. */
const UNSUPPORTED_HINTS: Readonly<Record<string, string>> = {
  network_mode: "every service joins the stack's one network",
  networks: "every service joins the stack's one network",
  secrets: "secrets come from stack config (pulumi config set --secret)",
  configs: "the program mounts no config files",
  profiles: "every service of the file is deployed; remove one with services.<name>: false",
  extends: "write the service out in full",
  env_file: "set variables in environment: or in services.<name>.env",
  container_name: "container names are stack-scoped (panopticon-<stack>-<service>)",
  stop_grace_period: "set panopticon:stopGraceSeconds",
};
const TOP_LEVEL = new Set(["version", "name", "services", "volumes"]);
const RESTARTS = new Set(["no", "always", "on-failure", "unless-stopped"]);

/** Parses compose YAML text into a plain map; YAML errors are problems. */
export function parseComposeText(text: string, origin: string, problems: string[]): unknown {
  // Loaded here, not at start: a stack whose compose file is cached (source.ts) or
  // promoted into its config never needs the YAML parser.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseDocument } = require("yaml") as typeof Yaml;
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0) {
    problems.push(`${origin}: not valid YAML (${doc.errors[0].message.split("\n")[0]})`);
    return undefined;
  }
  return doc.toJS({ maxAliasCount: 1000 });
}

/** Reads an uninterpolated compose map; every untranslatable key is pushed to `problems`. */
export function readCompose(map: unknown, origin: string, problems: string[]): ComposeFile {
  const empty: ComposeFile = { origin, services: [], volumes: {} };
  const top = composeSchema.safeParse(map);
  if (!top.success) {
    problems.push(`${origin}: expected a compose file with a services: map`);
    return empty;
  }
  for (const k of Object.keys(top.data)) {
    if (!TOP_LEVEL.has(k) && !k.startsWith("x-")) {
      problems.push(
        `${origin}: top-level ${k}: is not supported (${UNSUPPORTED_HINTS[k] ?? "the program cannot translate it"}); remove it from the compose file`,
      );
    }
  }
  const volumes: Record<string, { external?: string }> = {};
  for (const [name, decl] of Object.entries(top.data.volumes ?? {})) {
    volumes[name] = decl?.external ? { external: decl.name ?? name } : {};
  }
  const services: ComposeService[] = [];
  for (const [name, rawSvc] of Object.entries(top.data.services)) {
    const at = (key: string) => `${origin}: services.${name}.${key}`;
    if (!SERVICE_NAME.test(name)) {
      problems.push(`${origin}: services.${name}: ${SERVICE_NAME_HINT}`);
      continue;
    }
    const unknown = Object.keys(rawSvc).filter((k) => !SUPPORTED_SERVICE_KEYS.includes(k));
    for (const k of unknown) {
      problems.push(
        `${at(k)} is not supported (${UNSUPPORTED_HINTS[k] ?? "the program cannot translate it faithfully"}): remove it, or express it as ${"panopticon:services." + name} stack config (docs/configuration.md)`,
      );
    }
    if (unknown.length > 0) continue;
    const parsed = serviceSchema.safeParse(rawSvc);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push(`${at(issue.path.join("."))}: ${shapeHint(issue.path)}`);
      }
      continue;
    }
    const svc = readService(name, parsed.data, at, problems);
    if (svc) services.push(svc);
  }
  for (const svc of services) {
    for (const v of svc.volumes) {
      if (v.kind === "volume" && !(v.source in volumes)) {
        problems.push(
          `${origin}: services.${svc.name}.volumes: volume ${JSON.stringify(v.source)} is not declared under the top-level volumes:`,
        );
      }
    }
  }
  return { origin, services, volumes };
}

function shapeHint(path: ReadonlyArray<PropertyKey>): string {
  const key = String(path[0]);
  const hints: Record<string, string> = {
    ports: 'expected a list of "[ip:]host:container" strings or {target, published, host_ip}',
    volumes: 'expected a list of "source:target[:ro]" strings or {type, source, target}',
    environment: "expected a list of KEY=value strings or a map",
    depends_on: "expected a list of services or a map of service: {condition}",
    healthcheck: "expected {test, interval, timeout, retries, start_period}",
    deploy: "only deploy.resources.limits {cpus, memory} is supported",
    build: "expected a context path or {context, dockerfile, args}",
  };
  return hints[key] ?? "has an unexpected type";
}

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

function readService(
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
