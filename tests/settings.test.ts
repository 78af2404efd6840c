import * as fs from "fs";
import * as path from "path";
import fc from "fast-check";
import { parse } from "yaml";
import { volumeName, containerName, physicalName } from "../components/config/naming";
import { cliStackConfig, FIXTURE_SOURCE } from "./support/harness";
import { withAppImages } from "./support/app-images";
import { postgresMajorOf } from "../components/config/services";
import { protectionPolicy } from "../components/protection";
import { CONTRACT_SERVICES } from "./support/compose-contract";
import {
  ConfigError,
  DEFAULTS,
  parseSettings,
  plainSecretKeys,
  rawFromPulumiConfig,
  rawFromStackFile,
} from "../components/config/settings";

const ROOT = path.resolve(__dirname, "..");
const ctx = { stack: "dev", baseDir: "/proj" };

function problems(raw: Record<string, unknown>): string[] {
  try {
    parseSettings(withAppImages(raw), ctx);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

test("Pulumi.yaml declares the same defaults as the schema", () => {
  const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
  const declared = Object.fromEntries(
    Object.entries(project.config as Record<string, { default?: unknown }>).map(([k, v]) => [
      k,
      v.default,
    ]),
  );
  // storageMode is declared without a default: the CLI applies project defaults to
  // every stack, and AWS stacks refuse the key (the schema defaults it instead).
  const { storageMode, ...rest } = DEFAULTS;
  expect(storageMode).toBe("volume");
  expect(declared).toEqual({ ...rest, storageMode: undefined, adoptComposeVolumes: false });
  expect(DEFAULTS.postgresUser).toBe("postgres"); // the only login role of compose-era data
});

test.each(["dev", "prod"])(
  "Pulumi.%s.yaml as the CLI hands it over (project defaults + stack values) is valid",
  (stack) => {
    const all = Object.fromEntries(
      Object.entries(cliStackConfig(stack)).map(([k, v]) => [
        k,
        typeof v === "string" ? v : JSON.stringify(v),
      ]),
    );
    const s = parseSettings(rawFromPulumiConfig(all), { stack, baseDir: ROOT });
    expect(s.environment).toBe(stack === "prod" ? "aws" : "local");
  },
);

test("Pulumi.dev.yaml is valid and local", () => {
  const doc = parse(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
  // The checkout it names (../Argus) is the user's; the tests build from a fixture one.
  const raw = { ...rawFromStackFile(doc.config), appSource: FIXTURE_SOURCE };
  const s = parseSettings(raw, { stack: "dev", baseDir: ROOT });
  expect(s.environment).toBe("local");
  expect(s.services.map((x) => x.name)).toEqual(CONTRACT_SERVICES);
});

test("defaults: seven services, five stack-scoped volumes, loopback, 90 s grace", () => {
  const s = parseSettings(withAppImages(), ctx);
  expect(s.services).toHaveLength(7);
  expect(s.dataSets.map((d) => d.volumeName)).toEqual([
    "panopticon-dev-evaluation-data",
    "panopticon-dev-judge-data",
    "panopticon-dev-model-registry-data",
    "panopticon-dev-postgres-data",
    "panopticon-dev-query-data",
  ]);
  expect(s.bindAddress).toBe("127.0.0.1");
  expect(s.stopGraceSeconds).toBe(90);
  expect(s.protection).toEqual(protectionPolicy("local"));
});

test("bind mode resolves ./data/<service> against the project directory", () => {
  const s = parseSettings(withAppImages({ storageMode: "bind" }), ctx);
  expect(s.dataSets.map((d) => d.hostPath)).toEqual([
    "/proj/data/evaluation_storage",
    "/proj/data/judge_service",
    "/proj/data/model_registry",
    "/proj/data/postgres",
    "/proj/data/query_storage",
  ]);
  expect(s.dataSets.every((d) => d.volumeName === undefined && d.adopted)).toBe(true);
});

test("service overrides merge with defaults; env is sorted", () => {
  const s = parseSettings(
    withAppImages({
      services: { "judge-service": { env: { ZED: "1", ALPHA: "2" }, hostPort: 9001 } },
    }),
    ctx,
  );
  const judge = s.services.find((x) => x.name === "judge-service")!;
  expect(judge.hostPort).toBe(9001);
  expect(judge.image).toBe("registry.test/panopticon/judge-service:1.0.0");
  expect(judge.env.map(([k]) => k)).toEqual([
    "ALPHA",
    "EVALUATION_STORAGE_URL",
    "JUDGE_PERSIST_DIRECTORY",
    "JUDGE_STORAGE_TYPE",
    "LOG_LEVEL",
    "MODEL_DEFAULT_TEMPERATURE",
    "PYTHONPATH",
    "QUERY_STORAGE_URL",
    "ZED",
  ]);
});

test("extra services with data add data sets", () => {
  const s = parseSettings(
    withAppImages({
      services: {
        "extra-1": {
          image: "busybox:1",
          port: 80,
          data: { path: "/d", persistEnv: "DATA", uid: 5 },
          healthcheck: { test: ["CMD", "true"] },
        },
      },
    }),
    ctx,
  );
  const ds = s.dataSets.find((d) => d.key === "extra_1")!;
  expect(ds).toMatchObject({ volumeName: "panopticon-dev-extra-1-data", uid: 5, gid: 5 });
  expect(s.services.find((x) => x.name === "extra-1")!.hostPort).toBe(false);
});

test("every problem is reported at once, with key, value and expectation", () => {
  const p = problems({
    storageMode: "nfs",
    stopGraceSeconds: 30,
    services: { postgres: { port: 0 } },
  });
  expect(p).toEqual([
    'panopticon:storageMode = "nfs": expected "volume" or "bind"',
    "panopticon:stopGraceSeconds = 30: expected an integer number of seconds, at least 60 (databases need time to stop)",
    "panopticon:services.postgres.port = 0: expected an integer port between 1 and 65535",
  ]);
});

test.each<[string, Record<string, unknown>, RegExp]>([
  ["aws without the aws block", { environment: "aws" }, /panopticon:aws = \(missing\)/],
  [
    "protect off on aws",
    { environment: "aws", protect: false, aws: { region: "eu-west-1" } },
    /protect = false: AWS stacks always protect/,
  ],
  [
    "aws block on a local stack",
    { aws: { region: "eu-west-1" } },
    /aws is set but panopticon:environment = "local"/,
  ],
  [
    "volumeNames in bind mode",
    { storageMode: "bind", volumeNames: { postgres: "x" } },
    /applies to storageMode "volume" only/,
  ],
  [
    "two postgres services",
    { services: { pg2: { kind: "postgres", image: "postgres:16", port: 5433 } } },
    /2 services have kind "postgres"/,
  ],
  [
    "bad volume name",
    { volumeNames: { postgres: "-bad" } },
    /volumeNames\.postgres = "-bad": expected a Docker volume name/,
  ],
  [
    "service name with capitals",
    { services: { Judge: { image: "x:1", port: 1 } } },
    /services\.Judge: name "Judge" expected a service name/,
  ],
  [
    "uid out of range",
    { services: { postgres: { data: { uid: -1 } } } },
    /data\.uid = -1: expected a numeric uid/,
  ],
  [
    "env value not a string",
    { services: { postgres: { env: { X: 1 } } } },
    /env\.X = 1: expected a string value/,
  ],
])("%s is refused", (_label, raw, message) => {
  expect(problems(raw).join("\n")).toMatch(message);
});

test("Pulumi's flat config map: JSON objects and scalars parse, secrets are skipped", () => {
  expect(
    rawFromPulumiConfig({
      "panopticon:services": '{"postgres":{"hostPort":6543}}',
      "panopticon:stopGraceSeconds": "120",
      "panopticon:protect": "true",
      "panopticon:dataDir": "./data",
      "panopticon:postgresPassword": "secret",
      "aws:region": "eu-west-1",
    }),
  ).toEqual({
    services: { postgres: { hostPort: 6543 } },
    stopGraceSeconds: 120,
    protect: true,
    dataDir: "./data",
  });
});

test("stack files: other namespaces and secure values are skipped", () => {
  expect(
    rawFromStackFile({
      "panopticon:storageMode": "bind",
      "panopticon:postgresPassword": { secure: "v1:abc" },
      "aws:region": "eu-west-1",
    }),
  ).toEqual({ storageMode: "bind" });
});

describe("names (property-based)", () => {
  const label = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
  test("different stacks never share a volume or container name", () => {
    fc.assert(
      fc.property(label, label, label, (a, b, set) => {
        fc.pre(a !== b);
        return (
          volumeName("panopticon", a, set) !== volumeName("panopticon", b, set) &&
          containerName("panopticon", a, set) !== containerName("panopticon", b, set)
        );
      }),
    );
  });
  test("every physical name starts with project-stack-", () => {
    fc.assert(
      fc.property(label, fc.array(label, { maxLength: 3 }), (stack, parts) =>
        physicalName("panopticon", stack, ...parts).startsWith(`panopticon-${stack}`),
      ),
    );
  });
});

describe("Postgres major of an image reference", () => {
  test.each<[string, number | undefined]>([
    ["pgvector/pgvector:0.8.0-pg15-bookworm", 15],
    ["pgvector/pgvector:pg15", 15],
    ["pgvector/pgvector:0.7.4-pg16@sha256:" + "a".repeat(64), 16],
    ["postgres:15", 15],
    ["postgres:16.4-bookworm", 16],
    ["registry.example/team/postgres:15.8", 15],
    ["panopticon-test/postgres:15", 15],
    ["postgres:latest", undefined],
    ["busybox:1.36.1", undefined],
    ["registry.example/pg15tools:1.0", undefined],
  ])("%s -> %s", (ref, major) => {
    expect(postgresMajorOf(ref)).toBe(major);
  });

  test("an unreadable major is refused unless postgresMajor names it", () => {
    const raw = { services: { postgres: { image: "registry.example/db:latest" } } };
    expect(problems(raw).join("\n")).toMatch(
      /services\.postgres\.image = "registry\.example\/db:latest": its Postgres major cannot be read.*set panopticon:postgresMajor/,
    );
    const s = parseSettings(withAppImages({ ...raw, postgresMajor: 15 }), ctx);
    expect(s.postgres.major).toBe(15);
  });

  test("the default is Postgres 15 with pgvector, role postgres, database panopticon", () => {
    const s = parseSettings(withAppImages(), ctx);
    expect(s.postgres).toEqual({
      database: "panopticon",
      user: "postgres",
      major: 15,
      service: "postgres",
    });
    expect(s.services.find((x) => x.kind === "postgres")!.image).toMatch(/^pgvector\/pgvector:/);
  });
});

test("plainSecretKeys names secret keys stored in plain text, and only those", () => {
  const all = {
    "panopticon:apiKey": "plain",
    "panopticon:openaiApiKey": "ciphertext-as-the-cli-decrypts-it",
    "panopticon:postgresPassword": "plain-too",
    "panopticon:logLevel": "INFO",
  };
  const secret = new Set(["panopticon:openaiApiKey"]);
  expect(plainSecretKeys(all, (k) => secret.has(k)).sort()).toEqual(["apiKey", "postgresPassword"]);
  expect(plainSecretKeys(all, () => true)).toEqual([]);
});
