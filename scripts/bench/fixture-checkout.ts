import * as fs from "fs";
import * as path from "path";
import { Document, Scalar, YAMLMap, YAMLSeq } from "yaml";

/*
 * A Panopticon checkout made from facts, for the bench and the tests: the
 * docker-compose.yml of one of Panopticon's two layouts, and every dockerfile it
 * names. Nothing depends on a sibling ../Argus clone or on the commit it is at.
 *
 * The compose facts are those of upstream's own files (rbownes/Argus): the compose
 * era at e342b64, and release 0.1 (e9165f3), which is 99f909c's file with
 * depends_on conditions (../shared/PANOPTICON.md). Written the way compose files are
 * written: list-form environment with `${VAR}` left to compose, short port syntax.
 */

export type FixtureLayout = "compose-era" | "release-0.1";
export const FIXTURE_LAYOUTS: readonly FixtureLayout[] = ["compose-era", "release-0.1"];

type Yaml = Record<string, unknown>;

const APP_HEALTHCHECK = {
  test: ["CMD", "curl", "-f", "http://localhost:8000/health"],
  interval: "30s",
  timeout: "10s",
  retries: 5,
  start_period: "15s",
};
const limits = (cpus: string, memory: string) => ({ resources: { limits: { cpus, memory } } });
const SMALL = limits("0.5", "512M");
const LARGE = limits("1.0", "1G");

const COMMON_ENV = ["PYTHONPATH=/app", "LOG_LEVEL=INFO", "API_KEY=${API_KEY}"];
const PROVIDER_KEYS = [
  "OPENAI_API_KEY=${OPENAI_API_KEY}",
  "GOOGLE_API_KEY=${GOOGLE_API_KEY}",
  "ANTHROPIC_API_KEY=${ANTHROPIC_API_KEY}",
];
// Compose's literal database settings, as upstream ships them.
const DATABASE_ENV = [
  "POSTGRES_HOST=postgres",
  "POSTGRES_PORT=5432",
  "POSTGRES_USER=postgres",
  "POSTGRES_PASSWORD=postgres",
  "POSTGRES_DB=panopticon",
  "DATABASE_URL=postgresql://postgres:postgres@postgres:5432/panopticon",
];

interface AppFacts {
  readonly dockerfile: string;
  readonly hostPort: number;
  readonly volume?: string;
  readonly environment: readonly string[];
  /** Short form (a list) in the compose era, long form with conditions in 0.1. */
  readonly dependsOn?: readonly string[] | Readonly<Record<string, string>>;
  readonly deploy: Yaml;
}

/** One app service, its keys in upstream's order. */
function app(f: AppFacts): Yaml {
  const s: Yaml = {
    build: { context: ".", dockerfile: f.dockerfile },
    ports: [`${f.hostPort}:8000`],
  };
  if (f.volume !== undefined) s.volumes = [f.volume];
  s.environment = [...f.environment];
  if (f.dependsOn !== undefined) {
    s.depends_on = Array.isArray(f.dependsOn)
      ? [...f.dependsOn]
      : Object.fromEntries(
          Object.entries(f.dependsOn).map(([name, condition]) => [name, { condition }]),
        );
  }
  s.restart = "unless-stopped";
  s.healthcheck = APP_HEALTHCHECK;
  s.deploy = f.deploy;
  return s;
}

// Upstream's postgres has no restart policy; it is the only service without one.
const POSTGRES: Yaml = {
  build: { context: ".", dockerfile: "postgres/Dockerfile" },
  environment: ["POSTGRES_USER=postgres", "POSTGRES_PASSWORD=postgres", "POSTGRES_DB=panopticon"],
  volumes: ["./data/postgres:/var/lib/postgresql/data"],
  ports: ["5432:5432"],
  healthcheck: {
    test: ["CMD-SHELL", "pg_isready -U postgres"],
    interval: "10s",
    timeout: "5s",
    retries: 5,
    start_period: "10s",
  },
  deploy: LARGE,
};

function judge(queries: string, metrics: string, dependsOn: AppFacts["dependsOn"]): Yaml {
  return app({
    dockerfile: "judge_service/dockerfile",
    hostPort: 8003,
    volume: "./data/judge_service:/app/judge_service_data",
    environment: [
      ...COMMON_ENV,
      ...PROVIDER_KEYS,
      "MODEL_DEFAULT_TEMPERATURE=${MODEL_DEFAULT_TEMPERATURE:-0.7}",
      ...DATABASE_ENV,
      `QUERY_STORAGE_URL=http://${queries}:8000`,
      `EVALUATION_STORAGE_URL=http://${metrics}:8000`,
    ],
    dependsOn,
    deploy: LARGE,
  });
}

function modelRegistry(dependsOn: AppFacts["dependsOn"]): Yaml {
  return app({
    dockerfile: "model_registry/dockerfile",
    hostPort: 8005,
    volume: "./data/model_registry:/app/model_registry_data",
    environment: [
      ...COMMON_ENV,
      "LITELLM_API_KEY=${LITELLM_API_KEY}",
      ...PROVIDER_KEYS,
      "LITELLM_MODEL_DEFAULT_TEMPERATURE=${LITELLM_MODEL_DEFAULT_TEMPERATURE:-0.7}",
      ...DATABASE_ENV,
    ],
    dependsOn,
    deploy: SMALL,
  });
}

function visualization(dependsOn: AppFacts["dependsOn"]): Yaml {
  return app({
    dockerfile: "visualization_service/dockerfile",
    hostPort: 8004,
    environment: [...COMMON_ENV, ...DATABASE_ENV],
    dependsOn,
    deploy: SMALL,
  });
}

function mainApp(queries: string, metrics: string, dependsOn: AppFacts["dependsOn"]): Yaml {
  return app({
    dockerfile: "app/dockerfile",
    hostPort: 8000,
    environment: [
      ...COMMON_ENV,
      `QUERY_STORAGE_URL=http://${queries}:8000`,
      `EVALUATION_STORAGE_URL=http://${metrics}:8000`,
      "JUDGE_SERVICE_URL=http://judge-service:8000",
    ],
    dependsOn,
    deploy: SMALL,
  });
}

/** e342b64: seven services, five `./data` binds, every store ChromaDB or pgvector. */
function composeEra(): Yaml {
  const q = "query-storage";
  const e = "evaluation-storage";
  return {
    "main-app": mainApp(q, e, [q, e]),
    [q]: app({
      dockerfile: "query_storage/dockerfile",
      hostPort: 8001,
      volume: "./data/query_storage:/app/query_storage_data",
      environment: [
        ...COMMON_ENV,
        "QUERY_STORAGE_TYPE=${QUERY_STORAGE_TYPE:-postgres}",
        "DATABASE_URL=${DATABASE_URL}",
      ],
      dependsOn: ["postgres"],
      deploy: SMALL,
    }),
    // Upstream's evaluation-storage waits for nothing.
    [e]: app({
      dockerfile: "evaluation_storage/dockerfile",
      hostPort: 8002,
      volume: "./data/evaluation_storage:/app/evaluation_storage_data",
      environment: COMMON_ENV,
      deploy: SMALL,
    }),
    "judge-service": judge(q, e, ["postgres", q, e]),
    postgres: POSTGRES,
    "model-registry": modelRegistry(["postgres"]),
    "visualization-service": visualization(["postgres", "judge-service"]),
  };
}

/** e9165f3: two item storages built from one dockerfile, three `./data` binds. */
function release01(): Yaml {
  const q = "item-storage-queries";
  const m = "item-storage-metrics";
  const itemStorage = (hostPort: number, name: string, category: string, table: string) =>
    app({
      dockerfile: "item_storage/dockerfile",
      hostPort,
      environment: [
        ...COMMON_ENV,
        "DATABASE_URL=${DATABASE_URL}",
        `ITEM_TYPE_NAME=${name}`,
        `ITEM_TYPE_CATEGORY_NAME=${category}`,
        `ITEM_STORAGE_TABLE=${table}`,
      ],
      dependsOn: { postgres: "service_healthy" },
      deploy: SMALL,
    });
  return {
    "main-app": mainApp(q, m, { [q]: "service_started", [m]: "service_started" }),
    [q]: itemStorage(8001, "query", "theme", "items_queries"),
    [m]: itemStorage(8002, "metric", "metric_type", "items_metrics"),
    "judge-service": judge(q, m, {
      postgres: "service_healthy",
      [q]: "service_started",
      [m]: "service_started",
    }),
    postgres: POSTGRES,
    "model-registry": modelRegistry({ postgres: "service_healthy" }),
    "visualization-service": visualization({
      postgres: "service_healthy",
      "judge-service": "service_started",
    }),
  };
}

/** The compose file of `layout` as parsed YAML (`{ services: {...} }`), uninterpolated. */
export function fixtureCompose(layout: FixtureLayout): { services: Record<string, Yaml> } {
  const services = layout === "compose-era" ? composeEra() : release01();
  // A deep copy: callers may edit the result (a synthetic layout) without touching ours.
  return JSON.parse(JSON.stringify({ services })) as { services: Record<string, Yaml> };
}

/**
 * The compose file's text, styled as upstream writes it: a blank line between services,
 * healthcheck tests as flow lists of quoted words, ports quoted.
 */
export function fixtureComposeText(layout: FixtureLayout): string {
  const doc = new Document(fixtureCompose(layout), { aliasDuplicateObjects: false });
  doc.commentBefore = ` Panopticon's docker-compose.yml, layout ${layout}: a fixture made from upstream's facts`;
  const services = doc.get("services", true) as YAMLMap<Scalar, YAMLMap>;
  services.items.forEach((pair, i) => {
    if (i > 0) pair.key.spaceBefore = true;
    const test = pair.value?.getIn(["healthcheck", "test"], true) as unknown as YAMLSeq<Scalar>;
    test.flow = true;
    for (const word of test.items) word.type = "QUOTE_DOUBLE";
    // "8000:8000" is a base-60 number to a YAML 1.1 reader: compose files quote it.
    const ports = pair.value?.get("ports", true) as unknown as YAMLSeq<Scalar>;
    for (const port of ports.items) port.type = "QUOTE_DOUBLE";
  });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** The dockerfiles a layout's compose file names, each once (0.1's item storages share one). */
function dockerfiles(layout: FixtureLayout): string[] {
  const services = fixtureCompose(layout).services;
  const files = Object.values(services).map((s) => (s.build as { dockerfile: string }).dockerfile);
  return [...new Set(files)];
}

// Upstream builds pgvector 0.6.0 from source on postgres:15; one install line stands for it.
const POSTGRES_DOCKERFILE = `FROM postgres:15
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15-pgvector && rm -rf /var/lib/apt/lists/*
`;

function appDockerfile(dir: string): string {
  return `FROM python:3.12-slim
WORKDIR /app
COPY ${dir}/ ./${dir}/
EXPOSE 8000
CMD ["python", "-m", "uvicorn", "${dir}.api:app", "--host", "0.0.0.0", "--port", "8000"]
`;
}

/**
 * Writes a checkout of `layout` into `dir` (created if missing): docker-compose.yml,
 * every dockerfile it names, and a placeholder in each directory a dockerfile copies.
 */
export function writeFixtureCheckout(dir: string, layout: FixtureLayout): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "docker-compose.yml"), fixtureComposeText(layout));
  for (const file of dockerfiles(layout)) {
    const sub = path.dirname(file);
    fs.mkdirSync(path.join(dir, sub), { recursive: true });
    const text = sub === "postgres" ? POSTGRES_DOCKERFILE : appDockerfile(sub);
    fs.writeFileSync(path.join(dir, file), text);
    if (sub !== "postgres") fs.writeFileSync(path.join(dir, sub, "__init__.py"), "");
  }
}
