import { CatalogueData, CatalogueService, isSecretVariable, secretConfigKey } from "./catalogue";
import { composeVolumeName } from "./naming";
import type { DataOverride, ServiceOverride } from "./services-schema";

/*
 * The fields of one service that follow rules of their own when stack config is merged
 * over the catalogue: its environment (secrets, the persist variable), its healthcheck
 * (it must probe the port the service listens on) and its data set (mounted where the
 * service reads it). Each pushes every broken rule to `problems`.
 */

export interface Healthcheck {
  readonly test: readonly string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

/** One service's config keys (`panopticon:services.<name>.<field>`), for problems. */
export type KeyOf = (field: string) => string;

/** Compose's environment with config's overrides, the log level and the persist variable. */
export function resolveEnv(
  base: CatalogueService | undefined,
  over: ServiceOverride,
  data: CatalogueData | undefined,
  ctx: { readonly origin: string; readonly logLevel?: string; readonly app: boolean },
  key: KeyOf,
  problems: string[],
): Record<string, string> {
  const env: Record<string, string> = { ...(base?.env ?? {}) };
  if (ctx.app && ctx.logLevel !== undefined) env.LOG_LEVEL = ctx.logLevel;
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
        `${key(`env.${k}`)} = (missing): ${ctx.origin} leaves ${k} to the deployer with no default: set it here`,
      );
    }
  }
  // The persist variable is exactly the mount path: ChromaDB keeps its files at the root.
  if (data?.persistEnv !== undefined) env[data.persistEnv] = data.path;
  return env;
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

const LOOPBACK_URL = /\bhttps?:\/\/(?:localhost|127\.0\.0\.1|\[::1\]|0\.0\.0\.0):(\d+)/;

/** The port a healthcheck probes inside its own container (`http://localhost:8000/health`). */
export function probedPort(test: readonly string[]): number | undefined {
  const m = LOOPBACK_URL.exec(test.join(" "));
  return m ? Number(m[1]) : undefined;
}

export interface HealthContext {
  readonly name: string;
  readonly kind: "postgres" | "app";
  /** The port the service listens on, after config. */
  readonly port: number;
  /** Config moves the port away from the catalogue's (or adds the service). */
  readonly portMoved: boolean;
  readonly origin: string;
  readonly postgres: { readonly user: string; readonly database: string };
}

/**
 * The service's healthcheck: config's, else compose's; the database's always probes the
 * resolved port. Compose's command stays as compose wrote it, so where config moves the
 * port (or writes a command) and the probe then misses the port, that is a problem.
 */
export function resolveHealthcheck(
  base: CatalogueService | undefined,
  over: ServiceOverride,
  ctx: HealthContext,
  key: KeyOf,
  problems: string[],
): Healthcheck | undefined {
  const hc = over.healthcheck ?? {};
  const baseHealth =
    ctx.kind === "postgres"
      ? postgresHealth(ctx.port, ctx.postgres.user, ctx.postgres.database, base?.healthcheck)
      : base?.healthcheck;
  const test = hc.test ?? baseHealth?.test;
  if (test === undefined) {
    problems.push(
      `${key("healthcheck.test")} = (missing): expected a healthcheck command (compose has no healthcheck: for ${ctx.name})`,
    );
    return undefined;
  }
  const probed = probedPort(test);
  if ((hc.test !== undefined || ctx.portMoved) && probed !== undefined && probed !== ctx.port) {
    problems.push(
      hc.test !== undefined
        ? `${key("healthcheck.test")} = ${JSON.stringify(test)}: probes port ${probed}, but ${ctx.name} listens on ${ctx.port}: expected the healthcheck to probe port ${ctx.port}`
        : `${key("port")} = ${ctx.port}: ${ctx.origin}'s healthcheck of ${ctx.name} probes port ${probed} (${JSON.stringify(test)}): expected the port the healthcheck probes; set ${key("healthcheck.test")} to probe ${ctx.port}, or remove the port override`,
    );
  }
  return {
    test,
    intervalSeconds: hc.intervalSeconds ?? baseHealth?.intervalSeconds ?? 30,
    timeoutSeconds: hc.timeoutSeconds ?? baseHealth?.timeoutSeconds ?? 10,
    retries: hc.retries ?? baseHealth?.retries ?? 5,
    startPeriodSeconds: hc.startPeriodSeconds ?? baseHealth?.startPeriodSeconds ?? 15,
  };
}

/** The data set of one service, or undefined; refuses a mount its service would not read. */
export function resolveData(
  name: string,
  base: CatalogueData | undefined,
  over: DataOverride | false | undefined,
  key: KeyOf,
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
