import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import {
  FIXTURE_LAYOUTS,
  fixtureCompose,
  writeFixtureCheckout,
} from "../scripts/bench/fixture-checkout";

/*
 * The fixture checkouts restate upstream's compose files (rbownes/Argus at e342b64 and
 * e9165f3, ../shared/PANOPTICON.md). Here the facts are written out again by hand,
 * so a slip in the generator shows as a difference from the table, not as a test
 * that agrees with itself.
 */

const DIRS: string[] = [];
afterAll(() => DIRS.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
function checkout(layout: (typeof FIXTURE_LAYOUTS)[number]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fixture-checkout-${layout}-`));
  DIRS.push(dir);
  writeFixtureCheckout(dir, layout);
  return dir;
}
type Service = {
  build: { context: string; dockerfile: string };
  ports: string[];
  volumes?: string[];
  environment: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  restart?: string;
  deploy: { resources: { limits: { cpus: string; memory: string } } };
};
const read = (dir: string) =>
  parse(fs.readFileSync(path.join(dir, "docker-compose.yml"), "utf8")) as {
    services: Record<string, Service>;
  };

// service: dockerfile, host port, ./data bind, depends_on, cpus/memory
// prettier-ignore
const COMPOSE_ERA: Array<[string, string, string, string | null, unknown, string]> = [
  ["main-app", "app/dockerfile", "8000", null, ["query-storage", "evaluation-storage"], "0.5/512M"],
  ["query-storage", "query_storage/dockerfile", "8001", "./data/query_storage:/app/query_storage_data", ["postgres"], "0.5/512M"],
  ["evaluation-storage", "evaluation_storage/dockerfile", "8002", "./data/evaluation_storage:/app/evaluation_storage_data", undefined, "0.5/512M"],
  ["judge-service", "judge_service/dockerfile", "8003", "./data/judge_service:/app/judge_service_data", ["postgres", "query-storage", "evaluation-storage"], "1.0/1G"],
  ["postgres", "postgres/Dockerfile", "5432", "./data/postgres:/var/lib/postgresql/data", undefined, "1.0/1G"],
  ["model-registry", "model_registry/dockerfile", "8005", "./data/model_registry:/app/model_registry_data", ["postgres"], "0.5/512M"],
  ["visualization-service", "visualization_service/dockerfile", "8004", null, ["postgres", "judge-service"], "0.5/512M"],
];
const healthy = { condition: "service_healthy" };
const started = { condition: "service_started" };
// prettier-ignore
const RELEASE_01: typeof COMPOSE_ERA = [
  ["main-app", "app/dockerfile", "8000", null, { "item-storage-queries": started, "item-storage-metrics": started }, "0.5/512M"],
  ["item-storage-queries", "item_storage/dockerfile", "8001", null, { postgres: healthy }, "0.5/512M"],
  ["item-storage-metrics", "item_storage/dockerfile", "8002", null, { postgres: healthy }, "0.5/512M"],
  ["judge-service", "judge_service/dockerfile", "8003", "./data/judge_service:/app/judge_service_data", { postgres: healthy, "item-storage-queries": started, "item-storage-metrics": started }, "1.0/1G"],
  ["postgres", "postgres/Dockerfile", "5432", "./data/postgres:/var/lib/postgresql/data", undefined, "1.0/1G"],
  ["model-registry", "model_registry/dockerfile", "8005", "./data/model_registry:/app/model_registry_data", { postgres: healthy }, "0.5/512M"],
  ["visualization-service", "visualization_service/dockerfile", "8004", null, { postgres: healthy, "judge-service": started }, "0.5/512M"],
];

describe.each([
  ["compose-era", COMPOSE_ERA],
  ["release-0.1", RELEASE_01],
] as const)("fixture checkout %s", (layout, table) => {
  const dir = checkout(layout);
  const compose = read(dir);

  it("has upstream's services, in upstream's order", () => {
    expect(Object.keys(compose.services)).toEqual(table.map((r) => r[0]));
  });

  it.each(table)(
    "%s: build, port, mount, start order and limits",
    (name, file, port, bind, deps, lim) => {
      const s = compose.services[name];
      expect(s.build).toEqual({ context: ".", dockerfile: file });
      expect(s.ports).toEqual([name === "postgres" ? "5432:5432" : `${port}:8000`]);
      expect(s.volumes).toEqual(bind === null ? undefined : [bind]);
      expect(s.depends_on).toEqual(deps);
      const { cpus, memory } = s.deploy.resources.limits;
      expect(`${cpus}/${memory}`).toBe(lim);
      expect(s.restart).toBe(name === "postgres" ? undefined : "unless-stopped");
      expect(fs.existsSync(path.join(dir, file))).toBe(true);
    },
  );

  it("environment is compose's list form, with ${VAR} left uninterpolated", () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect(Array.isArray(s.environment)).toBe(true);
      if (name !== "postgres") expect(s.environment).toContain("API_KEY=${API_KEY}");
    }
    expect(compose.services.postgres.environment).toEqual([
      "POSTGRES_USER=postgres",
      "POSTGRES_PASSWORD=postgres",
      "POSTGRES_DB=panopticon",
    ]);
    expect(compose.services["judge-service"].environment).toContain(
      "DATABASE_URL=postgresql://postgres:postgres@postgres:5432/panopticon",
    );
  });

  it("postgres/Dockerfile is postgres:15 plus pgvector, as upstream's", () => {
    const lines = fs.readFileSync(path.join(dir, "postgres", "Dockerfile"), "utf8").split("\n");
    expect(lines[0]).toBe("FROM postgres:15");
    expect(lines[1]).toMatch(/^RUN .*pgvector/);
  });

  it("the text parses to fixtureCompose(), and ports are quoted for YAML 1.1 readers", () => {
    expect(compose).toEqual(fixtureCompose(layout));
    const text = fs.readFileSync(path.join(dir, "docker-compose.yml"), "utf8");
    expect(text).toMatch(/^ {6}- "8000:8000"$/m);
    expect(text).not.toMatch(/[&*]a\d/); // no YAML anchors or aliases
  });
});

it("the item storages of 0.1 differ only in port and item type", () => {
  const s = fixtureCompose("release-0.1").services;
  const env = (n: string) => (s[n] as unknown as Service).environment;
  expect(env("item-storage-queries")).toContain("ITEM_STORAGE_TABLE=items_queries");
  expect(env("item-storage-metrics")).toContain("ITEM_STORAGE_TABLE=items_metrics");
  expect(env("item-storage-queries")).toContain("DATABASE_URL=${DATABASE_URL}");
});
