import type { ComposeFile, ComposeService, Restart, Volume } from "./compose/read";
import { composeVolumeName } from "./naming";
import { readEnv } from "./catalogue-env";

export { isSecretVariable, secretConfigKey } from "./catalogue-env";

/*
 * The service catalogue: the checkout's own docker-compose.yml (components/config/compose/),
 * with the program's policy on top. Compose says what runs; the policy says what its
 * values mean for data, secrets and the database:
 *
 * - every mount of a `./data/<dir>` directory or a named volume is a data set
 *   (retained, protected, EBS/EFS on AWS);
 * - the service that mounts /var/lib/postgresql/data is the database (RDS on AWS);
 * - API_KEY and every *_API_KEY are config secrets; the database variables
 *   (POSTGRES_*, DATABASE_URL) are replaced by the stack's own, with one password;
 * - a persist variable equals its mount (ChromaDB keeps its files at the root).
 *
 * Stack config (`panopticon:services.<name>`) overrides or removes any service on
 * top (components/config/services.ts). Facts: ../shared/PANOPTICON.md.
 */

/** A data set as compose mounts it. */
export interface CatalogueData {
  /** Data-set key: names the volume (`panopticon-<stack>-<set>-data`) and the backup archive. */
  readonly set: string;
  /** Where the service reads its data inside the container. */
  readonly path: string;
  /** The variable set to exactly `path`; absent where the image reads a fixed path. */
  readonly persistEnv?: string;
  /** The compose-era external volume (DB_PERSISTENCE.md; adoptComposeVolumes: true). */
  readonly composeVolume: string;
  /** The `./data/<dir>` of BIND_MOUNT_README.md (storageMode: bind). */
  readonly bindDir: string;
  /** Owner of a directory the program creates: the user the image runs as. */
  readonly uid: number;
  readonly gid: number;
}

export interface CatalogueHealthcheck {
  readonly test: readonly string[];
  readonly intervalSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly retries?: number;
  readonly startPeriodSeconds?: number;
}

export interface CatalogueService {
  readonly kind: "app" | "postgres";
  readonly image?: string;
  /** compose `build:`; context and dockerfile relative to the checkout. */
  readonly build?: {
    readonly context: string;
    readonly dockerfile: string;
    readonly args?: Readonly<Record<string, string>>;
  };
  /** The container port; undefined when compose names none. */
  readonly port?: number;
  readonly hostPort: number | false;
  readonly stopSignal: string;
  readonly restart: Restart;
  readonly data?: CatalogueData;
  /** Plain environment after interpolation, without secrets, database and URL variables. */
  readonly env: Readonly<Record<string, string>>;
  /** Variables compose leaves to the deployer (`${VAR}`, no default): stack config must set them. */
  readonly unsetEnv: readonly string[];
  /** Variables holding another service's URL: variable → service. */
  readonly urls: Readonly<Record<string, string>>;
  /** Secret variables (API_KEY, *_API_KEY), filled from stack secrets. */
  readonly secrets: readonly string[];
  /** Receives POSTGRES_HOST/PORT/USER/PASSWORD/DB and DATABASE_URL. */
  readonly database: boolean;
  readonly dependsOn: readonly string[];
  /** A dependant waits until this one is healthy (compose `condition: service_healthy`). */
  readonly awaitHealthy: boolean;
  readonly healthcheck?: CatalogueHealthcheck;
  readonly limits: { readonly cpus: number; readonly memoryMb: number };
  readonly command?: readonly string[];
}

/**
 * Which Panopticon a checkout is: the compose era (ChromaDB stores, persist
 * variables) or release 0.1 (item storage in Postgres, ITEM_STORAGE_TABLE).
 */
export type Layout = "compose-era" | "release-0.1";

export interface Catalogue {
  readonly origin: string;
  readonly layout: Layout;
  readonly services: Readonly<Record<string, CatalogueService>>;
  /** The role and database compose's database service creates (POSTGRES_USER/DB). */
  readonly database: { readonly service?: string; readonly user?: string; readonly name?: string };
}

export const POSTGRES_DATA_PATH = "/var/lib/postgresql/data";
/** The official Postgres image's user; its entrypoint chowns a fresh data directory to it. */
const POSTGRES_UID = 999;
/**
 * The compose era's storage services, by mount path (PANOPTICON.md, "Environment each
 * service reads"). Compose sets no persist variable: the code defaults each to exactly
 * the mount; the program sets it anyway, so a changed default can never point the
 * service away from its data, and each gets the database settings (it reads them when
 * its type is postgres). The storage type, where compose leaves it to the code,
 * is written out with the code's default (ChromaDB), so what a service reads is
 * visible (doctor, the ECS storage switch). Release 0.1 reads none of these.
 */
const COMPOSE_ERA_STORES: Readonly<
  Record<string, { readonly persist: string; readonly type: string; readonly codeDefault: string }>
> = {
  "/app/query_storage_data": {
    persist: "CHROMA_PERSIST_DIRECTORY",
    type: "QUERY_STORAGE_TYPE",
    codeDefault: "chroma",
  },
  "/app/evaluation_storage_data": {
    persist: "EVALUATION_PERSIST_DIRECTORY",
    type: "EVALUATION_STORAGE_TYPE",
    codeDefault: "chroma",
  },
  "/app/judge_service_data": {
    persist: "JUDGE_PERSIST_DIRECTORY",
    type: "JUDGE_STORAGE_TYPE",
    codeDefault: "chroma",
  },
};
const PERSIST_VAR = /_PERSIST_DIRECTORY$/;
/** compose-era defaults the program keeps when compose says nothing. */
const DEFAULT_LIMITS = { cpus: 0.5, memoryMb: 512 };

/** Data-set key of a mount: `./data/query_storage` and volume `query_data` are both `query`. */
function dataSetKey(v: Volume): string {
  const base = v.kind === "bind" ? v.source.replace(/\/+$/, "").split("/").pop()! : v.source;
  const key =
    v.kind === "bind" ? base.replace(/_(storage|service)$/, "") : base.replace(/_data$/, "");
  return key.toLowerCase().replace(/[^a-z0-9_]/g, "_");
}

function readData(
  svc: ComposeService,
  compose: ComposeFile,
  layout: Layout,
  at: string,
  problems: string[],
): CatalogueData | undefined {
  const mounts = svc.volumes.filter((v) => {
    if (v.kind === "volume") return true;
    if (/^\.\/data\/[^/]+\/?$/.test(v.source)) return true;
    problems.push(
      `${at}.volumes: ${v.source}:${v.target}: only ./data/<dir> directories and named volumes can be kept as data sets; move it under ./data/ or remove it`,
    );
    return false;
  });
  if (mounts.length === 0) return undefined;
  if (mounts.length > 1) {
    problems.push(`${at}.volumes: ${mounts.length} data mounts: expected at most one per service`);
    return undefined;
  }
  const v = mounts[0];
  if (v.readOnly) {
    problems.push(
      `${at}.volumes: ${v.source}:${v.target}:ro: a data set is written by its service; remove :ro`,
    );
  }
  const set = dataSetKey(v);
  const isDb = v.target === POSTGRES_DATA_PATH;
  const named = [...svc.environment].find((e) => PERSIST_VAR.test(e.key))?.key;
  const persistEnv = isDb
    ? "PGDATA"
    : (named ?? (layout === "compose-era" ? COMPOSE_ERA_STORES[v.target]?.persist : undefined));
  const external = v.kind === "volume" ? compose.volumes[v.source]?.external : undefined;
  const id = isDb ? POSTGRES_UID : 0; // the app images have no USER line: root
  return {
    set,
    path: v.target,
    persistEnv,
    composeVolume: external ?? composeVolumeName(set),
    bindDir: v.kind === "bind" ? v.source.replace(/\/+$/, "").split("/").pop()! : set,
    uid: id,
    gid: id,
  };
}

/** The role and database the database service's entrypoint creates (POSTGRES_USER/DB). */
function createdNames(svc: ComposeService): { user?: string; name?: string } {
  const literal = (k: string) => {
    const e = svc.environment.find((x) => x.key === k);
    return e && e.value.unresolved.length === 0 ? e.value.value : undefined;
  };
  return { user: literal("POSTGRES_USER"), name: literal("POSTGRES_DB") };
}

function readService(
  svc: ComposeService,
  compose: ComposeFile,
  layout: Layout,
  awaited: ReadonlySet<string>,
  problems: string[],
): CatalogueService | undefined {
  const at = `${compose.origin}: services.${svc.name}`;
  const before = problems.length;
  if (svc.ports.length > 1) {
    problems.push(
      `${at}.ports: ${svc.ports.length} ports: expected one published port per service`,
    );
  }
  const port = svc.ports[0];
  if (port !== undefined && port.host === undefined) {
    problems.push(
      `${at}.ports: "${port.container}": compose publishes it on a random host port; write "<host>:${port.container}", or use expose: to publish none`,
    );
  }
  if (port?.hostIp !== undefined) {
    problems.push(
      `${at}.ports: host address ${port.hostIp}: the published address is panopticon:bindAddress; write the port without it`,
    );
  }
  const data = readData(svc, compose, layout, at, problems);
  const isDb = data?.path === POSTGRES_DATA_PATH;
  const names = new Set(compose.services.map((s) => s.name));
  const { env, urls, secrets, unsetEnv, database } = readEnv(svc, names, at, problems);
  if (isDb) for (const k of ["POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"]) delete env[k];
  const store = layout === "compose-era" && data ? COMPOSE_ERA_STORES[data.path] : undefined;
  if (store !== undefined && env[store.type] === undefined && !unsetEnv.includes(store.type)) {
    env[store.type] = store.codeDefault;
  }
  if (data?.persistEnv !== undefined && !isDb) {
    const v = env[data.persistEnv];
    if (v !== undefined && v !== data.path) {
      problems.push(
        `${at}.environment.${data.persistEnv} = ${JSON.stringify(v)}: must be the data mount ${JSON.stringify(data.path)} (anywhere else the service starts empty)`,
      );
    }
    delete env[data.persistEnv];
  }
  if (problems.length > before) return undefined;
  return {
    kind: isDb ? "postgres" : "app",
    image: svc.image,
    build: svc.build,
    port: port?.container ?? svc.expose[0] ?? (isDb ? 5432 : undefined),
    hostPort: port?.host ?? false,
    // Postgres's fast shutdown (SIGINT): clients disconnected, then a clean checkpoint.
    stopSignal: svc.stopSignal ?? (isDb ? "SIGINT" : "SIGTERM"),
    // The program's policy where compose says nothing: come back after a daemon restart.
    restart: svc.restart ?? "unless-stopped",
    data,
    env,
    unsetEnv,
    urls,
    secrets,
    // A compose-era storage service reads the database whenever its type is postgres
    // (PANOPTICON.md: every app but main-app reads DATABASE_URL), so it always gets it.
    database: !isDb && (database || store !== undefined),
    dependsOn: svc.dependsOn.map((d) => d.service),
    awaitHealthy: isDb || awaited.has(svc.name),
    healthcheck: svc.healthcheck,
    limits: {
      cpus: svc.limits.cpus ?? DEFAULT_LIMITS.cpus,
      memoryMb: svc.limits.memoryMb ?? DEFAULT_LIMITS.memoryMb,
    },
    command: svc.command,
  };
}

/** The catalogue of one compose file; untranslatable services are pushed to `problems`. */
export function catalogueFromCompose(compose: ComposeFile, problems: string[]): Catalogue {
  const layout: Layout = compose.services.some((s) =>
    s.environment.some((e) => e.key === "ITEM_STORAGE_TABLE"),
  )
    ? "release-0.1"
    : "compose-era";
  const awaited = new Set(
    compose.services.flatMap((s) =>
      s.dependsOn.filter((d) => d.condition === "service_healthy").map((d) => d.service),
    ),
  );
  const services: Record<string, CatalogueService> = {};
  for (const svc of compose.services) {
    const c = readService(svc, compose, layout, awaited, problems);
    if (c) services[svc.name] = c;
  }
  const dbs = Object.keys(services).filter((n) => services[n].kind === "postgres");
  if (dbs.length > 1) {
    problems.push(
      `${compose.origin}: ${dbs.join(", ")} all mount ${POSTGRES_DATA_PATH}: expected one database service`,
    );
  }
  const db = compose.services.find((s) => s.name === dbs[0]);
  return {
    origin: compose.origin,
    layout,
    services,
    database: { service: db?.name, ...(db ? createdNames(db) : {}) },
  };
}
