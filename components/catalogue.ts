/*
 * The Panopticon services as its docker-compose.yml runs them (rbownes/Argus, the
 * bind-mount compose of BIND_MOUNT_README.md; ../shared/PANOPTICON.md holds the
 * contract). One block per compose service, in compose's order and vocabulary:
 * build, ports, volumes (data), environment, depends_on, healthcheck, limits.
 *
 * Stack config may override any field, add services or remove one
 * (`services.<name>: false`); components/settings-services.ts validates and
 * resolves the result. Nothing here is an invention of ours: a value that
 * differs from compose loses data (a data set mounted where its app does not
 * read) or breaks the start (a healthcheck binary the image lacks).
 */

/** A data set as compose mounts it. */
export interface CatalogueData {
  /** Data-set key: names the volume (`panopticon-<stack>-<set>-data`) and the backup archive. */
  readonly set: string;
  /** Where the service reads its data inside the container. */
  readonly path: string;
  /**
   * The variable that tells the service where its data lives; the program sets it
   * to exactly `path`. Absent only where the image reads a fixed path.
   */
  readonly persistEnv?: string;
  /** The external volume of DB_PERSISTENCE.md (adoptComposeVolumes: true). */
  readonly composeVolume: string;
  /** The `./data/<dir>` of BIND_MOUNT_README.md (storageMode: bind). */
  readonly bindDir: string;
  /** Owner of a directory the program creates: the user the image runs as. */
  readonly uid: number;
  readonly gid: number;
}

export interface CatalogueHealthcheck {
  readonly test: readonly string[];
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly startPeriodSeconds: number;
}

export interface CatalogueService {
  readonly kind: "app" | "postgres";
  /** A prebuilt image; apps have none (compose builds them, nothing is published). */
  readonly image?: string;
  /** compose `build:`; context and dockerfile are relative to a Panopticon checkout. */
  readonly build: { readonly context: string; readonly dockerfile: string };
  readonly port: number;
  readonly hostPort: number | false;
  readonly stopSignal: string;
  readonly data?: CatalogueData;
  /** Plain environment, as compose sets it. */
  readonly env: Readonly<Record<string, string>>;
  /** Variables holding another service's URL: `http://<service>:<its port>`. */
  readonly urls: Readonly<Record<string, string>>;
  /** Variables filled from stack secrets; always declared, empty when unset, as compose does. */
  readonly secrets: readonly string[];
  /** Receives POSTGRES_HOST/PORT/USER/PASSWORD/DB and DATABASE_URL. */
  readonly database: boolean;
  readonly dependsOn: readonly string[];
  readonly healthcheck?: CatalogueHealthcheck;
  readonly limits: { readonly cpus: number; readonly memoryMb: number };
}

/** compose's app healthcheck: the images install curl (python:*-slim has no wget). */
const APP_HEALTH: CatalogueHealthcheck = {
  test: ["CMD", "curl", "-f", "http://localhost:8000/health"],
  intervalSeconds: 30,
  timeoutSeconds: 10,
  retries: 5,
  startPeriodSeconds: 15,
};
const APP_ENV = { PYTHONPATH: "/app", LOG_LEVEL: "INFO" };
const SMALL = { cpus: 0.5, memoryMb: 512 };
const LARGE = { cpus: 1.0, memoryMb: 1024 };
/** The compose images have no USER line: they run as root. */
const ROOT = { uid: 0, gid: 0 };
const app = { kind: "app", port: 8000, stopSignal: "SIGTERM" } as const;

export const CATALOGUE: Readonly<Record<string, CatalogueService>> = {
  "main-app": {
    ...app,
    build: { context: ".", dockerfile: "app/dockerfile" },
    hostPort: 8000,
    env: APP_ENV,
    urls: {
      QUERY_STORAGE_URL: "query-storage",
      EVALUATION_STORAGE_URL: "evaluation-storage",
      JUDGE_SERVICE_URL: "judge-service",
    },
    secrets: ["API_KEY"],
    database: false,
    dependsOn: ["query-storage", "evaluation-storage"],
    healthcheck: APP_HEALTH,
    limits: SMALL,
  },

  "query-storage": {
    ...app,
    build: { context: ".", dockerfile: "query_storage/dockerfile" },
    hostPort: 8001,
    data: {
      set: "query",
      path: "/app/query_storage_data",
      persistEnv: "CHROMA_PERSIST_DIRECTORY",
      composeVolume: "panopticon_query_data",
      bindDir: "query_storage",
      ...ROOT,
    },
    // The bind-mount compose keeps queries in Postgres (pgvector).
    env: { ...APP_ENV, QUERY_STORAGE_TYPE: "postgres" },
    urls: {},
    secrets: ["API_KEY"],
    database: true,
    dependsOn: ["postgres"],
    healthcheck: APP_HEALTH,
    limits: SMALL,
  },

  "evaluation-storage": {
    ...app,
    build: { context: ".", dockerfile: "evaluation_storage/dockerfile" },
    hostPort: 8002,
    data: {
      set: "evaluation",
      path: "/app/evaluation_storage_data",
      persistEnv: "EVALUATION_PERSIST_DIRECTORY",
      composeVolume: "panopticon_evaluation_data",
      bindDir: "evaluation_storage",
      ...ROOT,
    },
    env: { ...APP_ENV, EVALUATION_STORAGE_TYPE: "chroma" },
    urls: {},
    secrets: ["API_KEY"],
    database: true,
    dependsOn: [],
    healthcheck: APP_HEALTH,
    limits: SMALL,
  },

  "judge-service": {
    ...app,
    build: { context: ".", dockerfile: "judge_service/dockerfile" },
    hostPort: 8003,
    data: {
      set: "judge",
      path: "/app/judge_service_data",
      persistEnv: "JUDGE_PERSIST_DIRECTORY",
      composeVolume: "panopticon_judge_data",
      bindDir: "judge_service",
      ...ROOT,
    },
    env: { ...APP_ENV, JUDGE_STORAGE_TYPE: "chroma", MODEL_DEFAULT_TEMPERATURE: "0.7" },
    urls: {
      QUERY_STORAGE_URL: "query-storage",
      EVALUATION_STORAGE_URL: "evaluation-storage",
      MODEL_REGISTRY_URL: "model-registry",
    },
    secrets: ["API_KEY", "OPENAI_API_KEY", "GOOGLE_API_KEY", "ANTHROPIC_API_KEY"],
    database: true,
    dependsOn: ["postgres", "query-storage", "evaluation-storage"],
    healthcheck: APP_HEALTH,
    limits: LARGE,
  },

  "visualization-service": {
    ...app,
    build: { context: ".", dockerfile: "visualization_service/dockerfile" },
    hostPort: 8004,
    env: APP_ENV,
    urls: {},
    secrets: ["API_KEY"],
    database: true,
    dependsOn: ["postgres", "judge-service"],
    healthcheck: APP_HEALTH,
    limits: SMALL,
  },

  "model-registry": {
    ...app,
    build: { context: ".", dockerfile: "model_registry/dockerfile" },
    hostPort: 8005,
    // The image reads this fixed path; no variable moves it.
    data: {
      set: "model_registry",
      path: "/app/model_registry_data",
      composeVolume: "panopticon_model_registry_data",
      bindDir: "model_registry",
      ...ROOT,
    },
    env: { ...APP_ENV, LITELLM_MODEL_DEFAULT_TEMPERATURE: "0.7" },
    urls: {},
    secrets: [
      "API_KEY",
      "LITELLM_API_KEY",
      "OPENAI_API_KEY",
      "GOOGLE_API_KEY",
      "ANTHROPIC_API_KEY",
    ],
    database: true,
    dependsOn: ["postgres"],
    healthcheck: APP_HEALTH,
    limits: SMALL,
  },

  // Postgres 15 with pgvector (postgres/Dockerfile = postgres:15 + pgvector). A
  // compose-era data directory is major 15 and uses the `vector` extension: another
  // major refuses it, a server without pgvector cannot read its tables.
  postgres: {
    kind: "postgres",
    image: "pgvector/pgvector:0.8.0-pg15-bookworm",
    build: { context: ".", dockerfile: "postgres/Dockerfile" },
    port: 5432,
    hostPort: 5432,
    // Postgres's fast shutdown: clients are disconnected, then a clean checkpoint.
    stopSignal: "SIGINT",
    data: {
      set: "postgres",
      path: "/var/lib/postgresql/data",
      persistEnv: "PGDATA",
      composeVolume: "panopticon_postgres_data",
      bindDir: "postgres",
      // The image's postgres user; its entrypoint chowns a fresh directory to it.
      uid: 999,
      gid: 999,
    },
    env: {},
    urls: {},
    secrets: [],
    database: false,
    dependsOn: [],
    // The healthcheck is derived from the role and database (settings-services.ts).
    limits: LARGE,
  },
};

/**
 * The secret variables and the stack config key each is read from, set with
 * `pulumi config set --secret <key> <value>`. Never plain config, never promoted.
 */
export const SECRET_CONFIG_KEYS: Readonly<Record<string, string>> = {
  API_KEY: "apiKey",
  OPENAI_API_KEY: "openaiApiKey",
  GOOGLE_API_KEY: "googleApiKey",
  ANTHROPIC_API_KEY: "anthropicApiKey",
  LITELLM_API_KEY: "litellmApiKey",
};
