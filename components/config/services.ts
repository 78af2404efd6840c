import { z } from "zod";
import {
  Catalogue,
  CatalogueData,
  CatalogueService,
  isSecretVariable,
  secretConfigKey,
} from "./catalogue";
import { didYouMean } from "./suggest";
import type { Restart } from "./compose/read";
import { composeVolumeName, PROJECT } from "./naming";

/*
 * `panopticon:services`: per-service overrides of the catalogue (the checkout's
 * docker-compose.yml read by components/config/catalogue.ts),
 * new services, and `<name>: false` to remove one. Validated here, merged over the
 * catalogue, and checked against the rules that keep data where the apps read it.
 */

const DNS_LABEL = /^[a-z][a-z0-9-]{0,40}[a-z0-9]$/;
const DATA_SET = /^[a-z][a-z0-9_]{0,40}$/;
export const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Reserved: the program injects the connection settings itself. */
const RESERVED_ENV = /^(POSTGRES_|DATABASE_URL$|PGPASSWORD$)/;
const SIGNAL = /^SIG[A-Z0-9]+$/;
const IMAGE_HINT = "expected a container image reference, e.g. postgres:15 or repo@sha256:<digest>";

const port = z
  .number({ error: "expected an integer port between 1 and 65535" })
  .int("expected an integer port between 1 and 65535")
  .min(1, "expected an integer port between 1 and 65535")
  .max(65535, "expected an integer port between 1 and 65535");

export const image = z
  .string({ error: IMAGE_HINT })
  .regex(/^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/, IMAGE_HINT);

const id = z
  .number({ error: "expected a numeric uid/gid between 0 and 65535" })
  .int("expected a numeric uid/gid between 0 and 65535")
  .min(0, "expected a numeric uid/gid between 0 and 65535")
  .max(65535, "expected a numeric uid/gid between 0 and 65535");

const seconds = z
  .number({ error: "expected a whole number of seconds" })
  .int("expected a whole number of seconds")
  .min(0, "expected a whole number of seconds");

const envKey = z.string().regex(ENV_KEY, "expected an environment variable name");
const serviceName = z.string().regex(DNS_LABEL, "expected a service name: lower case, digits, -");

const dataSchema = z
  .object({
    set: z.string().regex(DATA_SET, "expected a data-set key: lower case, digits, _ (e.g. judge)"),
    path: z.string().regex(/^\/\S*$/, "expected an absolute path inside the container"),
    persistEnv: envKey,
    bindDir: z.string().regex(/^[A-Za-z0-9_.-]+$/, "expected a single directory name"),
    composeVolume: z.string().regex(DOCKER_NAME, "expected a Docker volume name"),
    uid: id,
    gid: id,
  })
  .partial()
  .strict();

const serviceSchema = z
  .object({
    kind: z.enum(["postgres", "app"], { error: 'expected "postgres" or "app"' }),
    image,
    build: z
      .object({
        context: z.string().min(1, "expected a directory inside the Panopticon checkout"),
        dockerfile: z.string().min(1, "expected a dockerfile path inside the Panopticon checkout"),
      })
      .partial()
      .strict(),
    port,
    hostPort: z.union([port, z.literal(false)], {
      error: "expected an integer port between 1 and 65535, or false for no published port",
    }),
    stopSignal: z.string().regex(SIGNAL, "expected a signal name such as SIGTERM"),
    env: z.record(
      envKey.refine((k) => !RESERVED_ENV.test(k), {
        message: "is reserved: the program injects the Postgres connection settings",
      }),
      z.string({ error: "expected a string value (quote numbers and booleans)" }),
    ),
    urls: z.record(envKey, serviceName),
    secrets: z.array(
      z.string().refine(isSecretVariable, {
        message: "expected a secret variable: API_KEY or a name ending in _API_KEY",
      }),
    ),
    database: z.boolean({ error: "expected true or false" }),
    dependsOn: z.array(serviceName),
    healthcheck: z
      .object({
        test: z.array(z.string()).min(1, "expected a non-empty command, e.g. [CMD, curl, ...]"),
        intervalSeconds: seconds,
        timeoutSeconds: seconds,
        retries: z
          .number({ error: "expected a whole number of retries, at least 1" })
          .int("expected a whole number of retries, at least 1")
          .min(1, "expected at least 1 retry"),
        startPeriodSeconds: seconds,
      })
      .partial()
      .strict(),
    limits: z
      .object({
        cpus: z
          .number({ error: "expected a positive number of CPUs, e.g. 0.5" })
          .positive("expected a positive number of CPUs, e.g. 0.5")
          .max(64, "expected at most 64 CPUs"),
        memoryMb: z
          .number({ error: "expected a whole number of MB, at least 16" })
          .int("expected a whole number of MB, at least 16")
          .min(16, "expected a whole number of MB, at least 16")
          .max(1048576, "expected at most 1048576 MB"),
      })
      .partial()
      .strict(),
    data: z.union([dataSchema, z.literal(false)], {
      error: "expected a data mapping {set, path, persistEnv, uid, gid, bindDir} or false",
    }),
    command: z.array(z.string()),
    restart: z.enum(["no", "always", "on-failure", "unless-stopped"], {
      error: "expected no, always, on-failure or unless-stopped",
    }),
  })
  .partial()
  .strict();

export const servicesSchema = z.record(
  serviceName,
  z.union([serviceSchema, z.literal(false)], {
    error: "expected the service's settings, or false to remove it",
  }),
);
type ServiceOverride = z.infer<typeof serviceSchema>;

export interface Healthcheck {
  readonly test: readonly string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

/** One service after the catalogue, stack config and the data rules. */
export interface ResolvedService {
  readonly name: string;
  readonly kind: "postgres" | "app";
  /** A prebuilt image; undefined when the catalogue builds it and config names none. */
  readonly image?: string;
  readonly build: {
    readonly context: string;
    readonly dockerfile: string;
    readonly args?: Readonly<Record<string, string>>;
  };
  readonly port: number;
  readonly hostPort: number | false;
  readonly stopSignal: string;
  readonly restart: Restart;
  /** Dependants wait until its healthcheck passes (the database; compose's service_healthy). */
  readonly awaitHealthy: boolean;
  /** Plain env, sorted: compose's, overrides, the persist variable and the service URLs. */
  readonly env: ReadonlyArray<readonly [string, string]>;
  /** Services this one calls through its URL variables. */
  readonly connectsTo: readonly string[];
  /** Secret variables (API_KEY, ...), sorted; always declared, empty when unset. */
  readonly secretEnv: readonly string[];
  /** Receives POSTGRES_HOST/PORT/USER/PASSWORD/DB and DATABASE_URL. */
  readonly database: boolean;
  /** compose depends_on: these start first (Postgres healthy first). */
  readonly dependsOn: readonly string[];
  readonly healthcheck: Healthcheck;
  readonly limits: { readonly cpus: number; readonly memoryMb: number };
  readonly command?: readonly string[];
  /** The data set before backends are chosen. */
  readonly data?: CatalogueData;
}

export interface ResolveContext {
  readonly postgres: { readonly user: string; readonly database: string };
  /** `panopticon:logLevel`: LOG_LEVEL of every app that does not set its own. */
  readonly logLevel?: string;
  /** The catalogue's service names, for "did you mean". */
  readonly known?: readonly string[];
}

function byKey(a: readonly [string, string], b: readonly [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function postgresHealth(
  port: number,
  user: string,
  database: string,
  timings: Partial<Healthcheck> = {},
): Healthcheck {
  // -h 127.0.0.1: the entrypoint's init-time server listens on the socket only, so
  // compose's socket check (pg_isready -U postgres) would report ready before the real
  // server is up. compose's timings are kept.
  return {
    test: ["CMD-SHELL", `pg_isready -q -h 127.0.0.1 -p ${port} -U ${user} -d ${database}`],
    intervalSeconds: timings.intervalSeconds ?? 10,
    timeoutSeconds: timings.timeoutSeconds ?? 5,
    retries: timings.retries ?? 5,
    startPeriodSeconds: timings.startPeriodSeconds ?? 10,
  };
}

/**
 * Merges `panopticon:services` over the catalogue. Returns the services sorted by
 * name; every broken rule is pushed to `problems` as `key = value: expected ...`.
 */
export function resolveServices(
  catalogue: Catalogue,
  overrides: Readonly<Record<string, ServiceOverride | false>> | undefined,
  ctx: ResolveContext,
  problems: string[],
): ResolvedService[] {
  const base = catalogue.services;
  for (const name of Object.keys(overrides ?? {})) {
    const over = overrides?.[name];
    if (base[name] !== undefined) continue;
    if (over === false) {
      problems.push(
        `${PROJECT}:services.${name} = false: ${catalogue.origin} has no service "${name}" to remove${didYouMean(name, Object.keys(base))} (known: ${Object.keys(base).sort().join(", ")})`,
      );
    }
  }
  const names = new Set([...Object.keys(base), ...Object.keys(overrides ?? {})]);
  const present = [...names].filter((n) => overrides?.[n] !== false).sort();
  const out: ResolvedService[] = [];
  const ports = new Map<string, number>();
  const failed = new Set<string>();
  for (const name of present) {
    const svc = resolveOne(
      name,
      base[name],
      overrides?.[name] || {},
      catalogue.origin,
      { ...ctx, known: Object.keys(base) },
      problems,
    );
    if (svc) {
      out.push(svc);
      ports.set(name, svc.port);
    } else {
      failed.add(name);
    }
  }
  const known = out.map((s) => s.name).join(", ");
  // Second pass: references between services, now that every port is known. A service
  // that failed above is already reported; a reference to it is not a second problem.
  return out.map((svc) => {
    const key = (field: string) => `${PROJECT}:services.${svc.name}.${field}`;
    const urls = { ...(base[svc.name]?.urls ?? {}), ...(overrides?.[svc.name] || {}).urls };
    const urlEnv: Array<[string, string]> = [];
    for (const [variable, target] of Object.entries(urls)) {
      const targetPort = ports.get(target);
      if (targetPort === undefined) {
        if (!failed.has(target)) {
          problems.push(
            `${key(`urls.${variable}`)} = ${JSON.stringify(target)}: no service "${target}" in this stack (known: ${known})`,
          );
        }
        continue;
      }
      urlEnv.push([variable, `http://${target}:${targetPort}`]);
    }
    for (const dep of svc.dependsOn) {
      if (!ports.has(dep) && !failed.has(dep)) {
        problems.push(
          `${key("dependsOn")} = ${JSON.stringify(svc.dependsOn)}: no service "${dep}" in this stack (known: ${known})`,
        );
      }
    }
    const env = new Map(svc.env);
    for (const [k, v] of urlEnv) env.set(k, v);
    return {
      ...svc,
      env: [...env.entries()].sort(byKey),
      connectsTo: [...new Set(urlEnv.map(([, v]) => new URL(v).hostname))].sort(),
      dependsOn: svc.dependsOn.filter((d) => ports.has(d)),
    };
  });
}

function resolveOne(
  name: string,
  base: CatalogueService | undefined,
  over: ServiceOverride,
  origin: string,
  ctx: ResolveContext,
  problems: string[],
): ResolvedService | undefined {
  const key = (field: string) => `${PROJECT}:services.${name}.${field}`;
  if (base === undefined && over.image === undefined && over.build?.dockerfile === undefined) {
    problems.push(
      `${PROJECT}:services.${name}: ${origin} has no service "${name}"${didYouMean(name, ctx.known ?? [])}; a service added here needs image or build.dockerfile (and port, healthcheck)`,
    );
    return undefined;
  }
  const kind = over.kind ?? base?.kind ?? "app";
  const port = over.port ?? base?.port;
  if (port === undefined) {
    problems.push(
      `${key("port")} = (missing): expected the port the service listens on (compose has no ports: or expose: for it)`,
    );
    return undefined;
  }
  const buildOver = over.build ?? {};
  const build = {
    context: buildOver.context ?? base?.build?.context ?? ".",
    dockerfile: buildOver.dockerfile ?? base?.build?.dockerfile ?? "",
    args: base?.build?.args,
  };

  const data = resolveData(name, base?.data, over.data, key, problems);
  const secretEnv = [...new Set(over.secrets ?? base?.secrets ?? [])].sort();
  const env: Record<string, string> = { ...(base?.env ?? {}) };
  if (kind === "app" && ctx.logLevel !== undefined) env.LOG_LEVEL = ctx.logLevel;
  for (const [k, v] of Object.entries(over.env ?? {})) {
    if (isSecretVariable(k)) {
      problems.push(
        `${key(`env.${k}`)} = (hidden): ${k} is a secret; remove it here and run \`pulumi config set --secret ${secretConfigKey(k)} <value>\``,
      );
      continue;
    }
    if (data?.persistEnv === k && v !== data.path) {
      problems.push(
        `${key(`env.${k}`)} = ${JSON.stringify(v)}: ${k} must be the data mount ${JSON.stringify(data.path)} (the data set is mounted there; anywhere else the service starts empty)`,
      );
      continue;
    }
    env[k] = v;
  }
  for (const k of base?.unsetEnv ?? []) {
    if (over.env?.[k] === undefined) {
      problems.push(
        `${key(`env.${k}`)} = (missing): ${origin} leaves ${k} to the deployer with no default: set it here`,
      );
    }
  }
  // The persist variable is exactly the mount path: ChromaDB keeps its files at the root.
  if (data?.persistEnv !== undefined) env[data.persistEnv] = data.path;

  const hc = over.healthcheck ?? {};
  const baseHealth =
    kind === "postgres"
      ? postgresHealth(port, ctx.postgres.user, ctx.postgres.database, base?.healthcheck)
      : base?.healthcheck;
  if (baseHealth === undefined && hc.test === undefined) {
    problems.push(
      `${key("healthcheck.test")} = (missing): expected a healthcheck command (compose has no healthcheck: for ${name})`,
    );
    return undefined;
  }
  const healthcheck: Healthcheck = {
    test: hc.test ?? baseHealth!.test,
    intervalSeconds: hc.intervalSeconds ?? baseHealth?.intervalSeconds ?? 30,
    timeoutSeconds: hc.timeoutSeconds ?? baseHealth?.timeoutSeconds ?? 10,
    retries: hc.retries ?? baseHealth?.retries ?? 5,
    startPeriodSeconds: hc.startPeriodSeconds ?? baseHealth?.startPeriodSeconds ?? 15,
  };
  return {
    name,
    kind,
    image: over.image ?? base?.image,
    build,
    port,
    hostPort: over.hostPort ?? base?.hostPort ?? false,
    stopSignal: over.stopSignal ?? base?.stopSignal ?? "SIGTERM",
    restart: over.restart ?? base?.restart ?? "unless-stopped",
    awaitHealthy: kind === "postgres" || (base?.awaitHealthy ?? false),
    env: Object.entries(env).sort(byKey),
    connectsTo: [],
    secretEnv,
    database: over.database ?? base?.database ?? kind === "app",
    dependsOn: [...new Set(over.dependsOn ?? base?.dependsOn ?? [])],
    healthcheck,
    limits: {
      cpus: over.limits?.cpus ?? base?.limits.cpus ?? 0.5,
      memoryMb: over.limits?.memoryMb ?? base?.limits.memoryMb ?? 512,
    },
    command: over.command ?? base?.command,
    data,
  };
}

/** The data set of one service, or undefined; refuses a mount its service would not read. */
function resolveData(
  name: string,
  base: CatalogueData | undefined,
  over: z.infer<typeof dataSchema> | false | undefined,
  key: (field: string) => string,
  problems: string[],
): CatalogueData | undefined {
  if (over === false) return undefined;
  if (base === undefined && over === undefined) return undefined;
  const d = { ...(base ?? {}), ...(over ?? {}) };
  if (d.path === undefined) {
    problems.push(`${key("data.path")} = (missing): expected the mount path inside the container`);
    return undefined;
  }
  if (d.persistEnv === undefined) {
    if (base === undefined) {
      problems.push(
        `${key("data.persistEnv")} = (missing): expected the variable that names the service's data directory (it is set to ${JSON.stringify(d.path)})`,
      );
      return undefined;
    }
    if (d.path !== base.path) {
      problems.push(
        `${key("data.path")} = ${JSON.stringify(d.path)}: ${name} reads its data at ${JSON.stringify(base.path)} and no variable moves it; a data set mounted elsewhere is never read`,
      );
      return undefined;
    }
  }
  const set = d.set ?? name.replace(/-/g, "_");
  return {
    set,
    path: d.path,
    persistEnv: d.persistEnv,
    composeVolume: d.composeVolume ?? composeVolumeName(set),
    bindDir: d.bindDir ?? set,
    uid: d.uid ?? 0,
    gid: d.gid ?? d.uid ?? 0,
  };
}

/** Postgres major of an image reference (`postgres:15.8`, `pgvector/pgvector:0.8.0-pg15`). */
export function postgresMajorOf(ref: string): number | undefined {
  const tag = ref.split("@")[0].split("/").pop() ?? "";
  const pg = /(?:^|[:\-_.])pg(\d{2})(?:$|[\-_.])/.exec(tag);
  if (pg) return Number(pg[1]);
  const official = /^(?:postgres|postgresql|postgis)[^:]*:(\d{2})(?:$|[.\-_])/.exec(tag);
  return official ? Number(official[1]) : undefined;
}

/** The start order must be acyclic, or no service ever starts. */
export function dependencyCycle(services: readonly ResolvedService[]): string[] | undefined {
  const deps = new Map(services.map((s) => [s.name, s.dependsOn]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === "done") return undefined;
    if (state.get(n) === "visiting") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "visiting");
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const s of services) {
    const c = visit(s.name);
    if (c) return c;
  }
  return undefined;
}
