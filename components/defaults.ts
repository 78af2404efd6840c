import type { Environment } from "./protection";

/*
 * The defaults of every setting, in one place: the five Panopticon services and
 * the scalar keys. components/settings.ts merges stack config over them;
 * Pulumi.yaml declares the same scalar defaults (tests/settings.test.ts keeps the
 * two equal).
 */

/** Defaults of the five Panopticon services. Config may override any field or add services. */
export const DEFAULT_SERVICES = {
  postgres: {
    kind: "postgres",
    image: "postgres:16.4-bookworm",
    port: 5432,
    hostPort: 5432,
    stopSignal: "SIGINT",
    env: {},
    data: {
      set: "postgres",
      path: "/var/lib/postgresql/data",
      bindDir: "postgres",
      composeVolume: "panopticon_postgres_data",
      uid: 999,
      gid: 999,
    },
  },
  "judge-service": {
    kind: "app",
    image: "ghcr.io/panopticon-ai/judge-service:1.0.0",
    port: 8000,
    hostPort: 8001,
    stopSignal: "SIGTERM",
    env: { CHROMA_PERSIST_DIRECTORY: "/app/data/chroma", LOG_LEVEL: "info" },
    data: {
      set: "judge",
      path: "/app/data",
      bindDir: "judge_service",
      composeVolume: "panopticon_judge_data",
      uid: 1000,
      gid: 1000,
    },
  },
  "query-storage": {
    kind: "app",
    image: "ghcr.io/panopticon-ai/query-storage:1.0.0",
    port: 8000,
    hostPort: 8002,
    stopSignal: "SIGTERM",
    env: { CHROMA_PERSIST_DIRECTORY: "/app/data/chroma", LOG_LEVEL: "info" },
    data: {
      set: "query",
      path: "/app/data",
      bindDir: "query_storage",
      composeVolume: "panopticon_query_data",
      uid: 1000,
      gid: 1000,
    },
  },
  "evaluation-storage": {
    kind: "app",
    image: "ghcr.io/panopticon-ai/evaluation-storage:1.0.0",
    port: 8000,
    hostPort: 8003,
    stopSignal: "SIGTERM",
    env: { CHROMA_PERSIST_DIRECTORY: "/app/data/chroma", LOG_LEVEL: "info" },
    data: {
      set: "evaluation",
      path: "/app/data",
      bindDir: "evaluation_storage",
      composeVolume: "panopticon_evaluation_data",
      uid: 1000,
      gid: 1000,
    },
  },
  "model-registry": {
    kind: "app",
    image: "ghcr.io/panopticon-ai/model-registry:1.0.0",
    port: 8000,
    hostPort: 8004,
    stopSignal: "SIGTERM",
    env: { MODEL_STORE_PATH: "/app/models", LOG_LEVEL: "info" },
    data: {
      set: "model_registry",
      path: "/app/models",
      bindDir: "model_registry",
      composeVolume: "panopticon_model_registry_data",
      uid: 1000,
      gid: 1000,
    },
  },
} as const;

/** Defaults of the scalar keys; Pulumi.yaml declares the same values (a test keeps them equal). */
export const DEFAULTS = {
  environment: "local" as Environment,
  storageMode: "volume" as "volume" | "bind",
  dataDir: "./data",
  bindAddress: "127.0.0.1",
  stopGraceSeconds: 90,
  initImage: "busybox:1.36.1",
  postgresDatabase: "panopticon",
  postgresUser: "panopticon",
};
