/*
 * The compose contract of ../shared/PANOPTICON.md, written out again by hand so the
 * tests check what the program makes of a checkout's docker-compose.yml instead of
 * reading it back. Each row is one service, with the program's policy applied
 * (secrets from config, the stack's own database settings, persist variables set
 * to their mounts). CONTRACT is the compose era (rbownes/Argus e342b64, the
 * bind-mount layout); RELEASE_01 is release 0.1 (e9165f3).
 */

export interface ContractData {
  readonly set: string;
  readonly path: string;
  /** Variable that must equal `path`; undefined where the image reads a fixed path. */
  readonly persistEnv?: string;
  readonly composeVolume: string;
  readonly bindDir: string;
}

export interface ContractRow {
  readonly hostPort: number;
  readonly port: number;
  readonly data?: ContractData;
  /** Plain variables and their compose values. */
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: readonly string[];
  readonly database: boolean;
  readonly dependsOn: readonly string[];
  readonly cpus: string;
  readonly memoryMb: number;
  /** Healthcheck command and timings (interval, timeout, retries, start period). */
  readonly health: {
    readonly test: RegExp;
    readonly timings: readonly [string, string, number, string];
  };
}

const APP_HEALTH = {
  test: /^CMD curl -f http:\/\/localhost:8000\/health$/,
  timings: ["30s", "10s", 5, "15s"],
} as const;
const BASE_ENV = { PYTHONPATH: "/app", LOG_LEVEL: "INFO" };

export const CONTRACT: Readonly<Record<string, ContractRow>> = {
  "main-app": {
    hostPort: 8000,
    port: 8000,
    env: {
      ...BASE_ENV,
      QUERY_STORAGE_URL: "http://query-storage:8000",
      EVALUATION_STORAGE_URL: "http://evaluation-storage:8000",
      JUDGE_SERVICE_URL: "http://judge-service:8000",
    },
    secrets: ["API_KEY"],
    database: false,
    dependsOn: ["query-storage", "evaluation-storage"],
    cpus: "0.5",
    memoryMb: 512,
    health: APP_HEALTH,
  },
  "query-storage": {
    hostPort: 8001,
    port: 8000,
    data: {
      set: "query",
      path: "/app/query_storage_data",
      persistEnv: "CHROMA_PERSIST_DIRECTORY",
      composeVolume: "panopticon_query_data",
      bindDir: "query_storage",
    },
    env: { ...BASE_ENV, QUERY_STORAGE_TYPE: "postgres" },
    secrets: ["API_KEY"],
    database: true,
    dependsOn: ["postgres"],
    cpus: "0.5",
    memoryMb: 512,
    health: APP_HEALTH,
  },
  "evaluation-storage": {
    hostPort: 8002,
    port: 8000,
    data: {
      set: "evaluation",
      path: "/app/evaluation_storage_data",
      persistEnv: "EVALUATION_PERSIST_DIRECTORY",
      composeVolume: "panopticon_evaluation_data",
      bindDir: "evaluation_storage",
    },
    // compose gives it no database settings and no storage type; the code reads both
    // (PANOPTICON.md): ChromaDB by default, written out, and the stack's database.
    env: { ...BASE_ENV, EVALUATION_STORAGE_TYPE: "chroma" },
    secrets: ["API_KEY"],
    database: true,
    dependsOn: [],
    cpus: "0.5",
    memoryMb: 512,
    health: APP_HEALTH,
  },
  "judge-service": {
    hostPort: 8003,
    port: 8000,
    data: {
      set: "judge",
      path: "/app/judge_service_data",
      persistEnv: "JUDGE_PERSIST_DIRECTORY",
      composeVolume: "panopticon_judge_data",
      bindDir: "judge_service",
    },
    env: {
      ...BASE_ENV,
      JUDGE_STORAGE_TYPE: "chroma",
      MODEL_DEFAULT_TEMPERATURE: "0.7",
      QUERY_STORAGE_URL: "http://query-storage:8000",
      EVALUATION_STORAGE_URL: "http://evaluation-storage:8000",
    },
    secrets: ["API_KEY", "OPENAI_API_KEY", "GOOGLE_API_KEY", "ANTHROPIC_API_KEY"],
    database: true,
    dependsOn: ["postgres", "query-storage", "evaluation-storage"],
    cpus: "1",
    memoryMb: 1024,
    health: APP_HEALTH,
  },
  "visualization-service": {
    hostPort: 8004,
    port: 8000,
    env: BASE_ENV,
    secrets: ["API_KEY"],
    database: true,
    dependsOn: ["postgres", "judge-service"],
    cpus: "0.5",
    memoryMb: 512,
    health: APP_HEALTH,
  },
  "model-registry": {
    hostPort: 8005,
    port: 8000,
    data: {
      set: "model_registry",
      path: "/app/model_registry_data",
      composeVolume: "panopticon_model_registry_data",
      bindDir: "model_registry",
    },
    env: { ...BASE_ENV, LITELLM_MODEL_DEFAULT_TEMPERATURE: "0.7" },
    secrets: [
      "API_KEY",
      "LITELLM_API_KEY",
      "OPENAI_API_KEY",
      "GOOGLE_API_KEY",
      "ANTHROPIC_API_KEY",
    ],
    database: true,
    dependsOn: ["postgres"],
    cpus: "0.5",
    memoryMb: 512,
    health: APP_HEALTH,
  },
  postgres: {
    hostPort: 5432,
    port: 5432,
    data: {
      set: "postgres",
      path: "/var/lib/postgresql/data",
      persistEnv: "PGDATA",
      composeVolume: "panopticon_postgres_data",
      bindDir: "postgres",
    },
    env: { POSTGRES_USER: "postgres", POSTGRES_DB: "panopticon" },
    secrets: [],
    database: false,
    dependsOn: [],
    cpus: "1",
    memoryMb: 1024,
    health: { test: /^CMD-SHELL pg_isready .*-U postgres\b/, timings: ["10s", "5s", 5, "10s"] },
  },
};

const ITEM_STORAGE = (hostPort: number, type: string, category: string, table: string) =>
  ({
    hostPort,
    port: 8000,
    env: {
      ...BASE_ENV,
      ITEM_TYPE_NAME: type,
      ITEM_TYPE_CATEGORY_NAME: category,
      ITEM_STORAGE_TABLE: table,
    },
    secrets: ["API_KEY"],
    // DATABASE_URL=${DATABASE_URL}: left to the deployer by compose, computed here.
    database: true,
    dependsOn: ["postgres"],
    cpus: "0.5",
    memoryMb: 512,
    health: APP_HEALTH,
  }) satisfies ContractRow;

/** Release 0.1 (PANOPTICON.md "Release 0.1"): item storage in Postgres, three data sets. */
export const RELEASE_01: Readonly<Record<string, ContractRow>> = {
  "main-app": {
    ...CONTRACT["main-app"],
    env: {
      ...BASE_ENV,
      QUERY_STORAGE_URL: "http://item-storage-queries:8000",
      EVALUATION_STORAGE_URL: "http://item-storage-metrics:8000",
      JUDGE_SERVICE_URL: "http://judge-service:8000",
    },
    dependsOn: ["item-storage-queries", "item-storage-metrics"],
  },
  "item-storage-queries": ITEM_STORAGE(8001, "query", "theme", "items_queries"),
  "item-storage-metrics": ITEM_STORAGE(8002, "metric", "metric_type", "items_metrics"),
  "judge-service": {
    ...CONTRACT["judge-service"],
    // The directory stays mounted; no persist variable any more (LLM outputs are a table).
    data: {
      set: "judge",
      path: "/app/judge_service_data",
      composeVolume: "panopticon_judge_data",
      bindDir: "judge_service",
    },
    env: {
      ...BASE_ENV,
      MODEL_DEFAULT_TEMPERATURE: "0.7",
      QUERY_STORAGE_URL: "http://item-storage-queries:8000",
      EVALUATION_STORAGE_URL: "http://item-storage-metrics:8000",
    },
    dependsOn: ["postgres", "item-storage-queries", "item-storage-metrics"],
  },
  "visualization-service": CONTRACT["visualization-service"],
  "model-registry": CONTRACT["model-registry"],
  postgres: CONTRACT.postgres,
};

export const LAYOUTS = { "compose era (e342b64)": CONTRACT, "release 0.1 (e9165f3)": RELEASE_01 };

export const CONTRACT_SERVICES = Object.keys(CONTRACT).sort();
/** The six app services (every service but postgres), sorted. */
export const CONTRACT_APPS = CONTRACT_SERVICES.filter((s) => s !== "postgres");
export const SECRET_VARIABLES = [
  "API_KEY",
  "OPENAI_API_KEY",
  "GOOGLE_API_KEY",
  "ANTHROPIC_API_KEY",
  "LITELLM_API_KEY",
];
