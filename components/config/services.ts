import { Catalogue, CatalogueData, CatalogueService } from "./catalogue";
import { didYouMean } from "./suggest";
import type { Restart } from "./compose/read";
import { PROJECT } from "./naming";
import { Healthcheck, resolveData, resolveEnv, resolveHealthcheck } from "./service-fields";
import { ServiceOverride } from "./services-schema";
import { startOrder } from "./start-order";

export { DOCKER_NAME, image, servicesSchema } from "./services-schema";
export type { Healthcheck } from "./service-fields";

/*
 * `panopticon:services` (schema: components/config/services-schema.ts) merged over the
 * catalogue (the checkout's docker-compose.yml read by components/config/catalogue.ts),
 * and checked against the rules that keep data where the apps read it
 * (components/config/service-fields.ts).
 */

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

type Overrides = Readonly<Record<string, ServiceOverride | false>>;

function byKey(a: readonly [string, string], b: readonly [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * Merges `panopticon:services` over the catalogue. Returns the services sorted by
 * name; every broken rule is pushed to `problems` as `key = value: expected ...`.
 */
export function resolveServices(
  catalogue: Catalogue,
  overrides: Overrides | undefined,
  ctx: ResolveContext,
  problems: string[],
): ResolvedService[] {
  const base = catalogue.services;
  for (const name of Object.keys(overrides ?? {})) {
    if (base[name] === undefined && overrides?.[name] === false) {
      problems.push(
        `${PROJECT}:services.${name} = false: ${catalogue.origin} has no service "${name}" to remove${didYouMean(name, Object.keys(base))} (known: ${Object.keys(base).sort().join(", ")})`,
      );
    }
  }
  const names = new Set([...Object.keys(base), ...Object.keys(overrides ?? {})]);
  const present = [...names].filter((n) => overrides?.[n] !== false).sort();
  const out: ResolvedService[] = [];
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
    if (svc) out.push(svc);
    else failed.add(name);
  }
  return resolveReferences(out, base, overrides, failed, problems);
}

/**
 * Second pass: references between services (URL variables, dependsOn), now that every
 * port is known. A service that failed the first pass is already reported; a
 * reference to it is not a second problem.
 */
function resolveReferences(
  resolved: readonly ResolvedService[],
  base: Catalogue["services"],
  overrides: Overrides | undefined,
  failed: ReadonlySet<string>,
  problems: string[],
): ResolvedService[] {
  const ports = new Map(resolved.map((s) => [s.name, s.port]));
  const known = resolved.map((s) => s.name).join(", ");
  return resolved.map((svc) => {
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

/** One service: config over its catalogue entry; undefined (and problems) when it cannot run. */
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
  const data = resolveData(name, base?.data, over.data, key, problems);
  const envCtx = { origin, logLevel: ctx.logLevel, app: kind === "app" };
  const env = resolveEnv(base, over, data, envCtx, key, problems);
  const portMoved = over.port !== undefined && over.port !== base?.port;
  const healthCtx = { name, kind, port, portMoved, origin, postgres: ctx.postgres };
  const healthcheck = resolveHealthcheck(base, over, healthCtx, key, problems);
  if (healthcheck === undefined) return undefined;
  return {
    name,
    kind,
    image: over.image ?? base?.image,
    build: {
      context: over.build?.context ?? base?.build?.context ?? ".",
      dockerfile: over.build?.dockerfile ?? base?.build?.dockerfile ?? "",
      args: base?.build?.args,
    },
    port,
    hostPort: over.hostPort ?? base?.hostPort ?? false,
    stopSignal: over.stopSignal ?? base?.stopSignal ?? "SIGTERM",
    restart: over.restart ?? base?.restart ?? "unless-stopped",
    awaitHealthy: kind === "postgres" || (base?.awaitHealthy ?? false),
    env: Object.entries(env).sort(byKey),
    connectsTo: [],
    secretEnv: [...new Set(over.secrets ?? base?.secrets ?? [])].sort(),
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

/** Postgres major of an image reference (`postgres:15.8`, `pgvector/pgvector:0.8.0-pg15`). */
export function postgresMajorOf(ref: string): number | undefined {
  const tag = ref.split("@")[0].split("/").pop() ?? "";
  const pg = /(?:^|[:\-_.])pg(\d{2})(?:$|[\-_.])/.exec(tag);
  if (pg) return Number(pg[1]);
  const official = /^(?:postgres|postgresql|postgis)[^:]*:(\d{2})(?:$|[.\-_])/.exec(tag);
  return official ? Number(official[1]) : undefined;
}

/** The start order must be acyclic, or no service ever starts (components/config/start-order.ts). */
export function dependencyCycle(services: readonly ResolvedService[]): string[] | undefined {
  const cycle = startOrder(services).cycle;
  return cycle === undefined ? undefined : [...cycle];
}
