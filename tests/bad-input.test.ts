import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { composeText, makeCheckout } from "./support/checkouts";
import { cliStackConfig, ProgramRun, runProgram } from "./support/harness";

/*
 * Every bad input a user is known to try, in one table: what they set, the fragment
 * of the answer that names the key, the value and what was expected, and nothing
 * registered. Each row also carries its accepted neighbour (the same setting, done
 * right), which must register the stack: so no row passes because the stack was
 * broken some other way, and no refusal is wider than its rule.
 */

type Json = Record<string, unknown>;

/** One stack's config, as changes to Pulumi.<stack>.yaml. */
interface Input {
  /** Top-level `panopticon:` keys. */
  readonly config?: Json;
  /** Merged into each named service's block of the stack file (false removes one). */
  readonly services?: Json;
  /** Merged into the `panopticon:aws` block (prod only); objects one level deep. */
  readonly aws?: Json;
  readonly secrets?: Record<string, string>;
}

interface Row {
  readonly label: string;
  readonly stack?: "dev" | "prod";
  readonly bad: Input;
  /** The compliant neighbour of `bad`. */
  readonly ok: Input;
  /** A fragment of the refusal (a string is matched literally). */
  readonly message: string | RegExp;
}

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "bad-input-"));
const DATA = path.join(TMP, "data");
const A_FILE = path.join(TMP, "not-a-directory");
fs.writeFileSync(A_FILE, "a file, not a directory\n");
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

const DIGEST = "sha256:" + "ab".repeat(32);
const bind = (dataDir: string): Input => ({ config: { storageMode: "bind", dataDir } });
const notes = (data: Json) => ({
  notes: {
    image: "notes:1",
    port: 8000,
    data: { persistEnv: "NOTES_DIR", ...data },
    healthcheck: { test: ["CMD", "true"] },
  },
});

const RELEASE = composeText("release-0.1");
const checkout = (text: string) => makeCheckout({ text });

const ROWS: Row[] = [
  // ---- secrets
  {
    label: "an empty postgresPassword secret",
    bad: { secrets: { postgresPassword: "" } },
    ok: { secrets: { postgresPassword: "pw-Zq81-not-empty" } },
    message:
      'panopticon:postgresPassword = "" (secret, empty): expected a non-empty password (the Postgres image refuses an empty POSTGRES_PASSWORD on new data)',
  },
  {
    label: "an empty API-key secret (compose gives API_KEY no default)",
    bad: { secrets: { apiKey: "" } },
    ok: { secrets: { apiKey: "api-key-not-empty" } },
    message:
      /panopticon:apiKey = "" \(secret, empty\): .*main-app.* read API_KEY, which compose gives no default/,
  },
  // ---- the compose catalogue
  {
    label: "a service name one letter off",
    bad: { config: { services: { "judge-servce": { env: { X: "1" } } } } },
    ok: { config: { services: { "judge-service": { env: { X: "1" } } } } },
    message:
      /services\.judge-servce: \S+ has no service "judge-servce"; did you mean "judge-service"\?/,
  },
  {
    label: "a compose depends_on condition the program cannot honour",
    bad: {
      config: {
        appSource: checkout(RELEASE.replace("service_healthy", "service_completed_successfully")),
      },
    },
    ok: { config: { appSource: checkout(RELEASE) } },
    message:
      'depends_on.postgres.condition = "service_completed_successfully": expected service_started or service_healthy',
  },
  {
    label: "a service added by config that fails, referenced by another: reported once",
    bad: {
      config: { services: { notes: { image: "notes:1" }, "main-app": { dependsOn: ["notes"] } } },
    },
    ok: {
      config: {
        services: {
          notes: { image: "notes:1", port: 8000, healthcheck: { test: ["CMD", "true"] } },
          "main-app": { dependsOn: ["notes"] },
        },
      },
    },
    // The failure is named; the reference to it is not reported as a second, contradicting one.
    message:
      /^(?![\s\S]*no service "notes" in this stack)[\s\S]*services\.notes\.port = \(missing\)/,
  },
  {
    label: "an API key in plain config",
    bad: { config: { apiKey: "plain-text-key" } },
    ok: { secrets: { apiKey: "plain-text-key" } },
    message: "panopticon:apiKey is set in plain text: expected a secret",
  },
  {
    label: "an API key in a service's plain env",
    bad: { services: { "judge-service": { env: { OPENAI_API_KEY: "sk-plain" } } } },
    ok: { services: { "judge-service": { env: { OPENAI_MODEL: "gpt-4o" } } } },
    message:
      "panopticon:services.judge-service.env.OPENAI_API_KEY = (hidden): OPENAI_API_KEY is a secret; remove it here and run `pulumi config set --secret openaiApiKey <value>`",
  },
  // ---- where data lives on the host
  {
    label: "bind mode with dataDir /",
    bad: bind("/"),
    ok: bind(DATA),
    message: 'panopticon:dataDir = "/": / is a system directory: expected a directory of its own',
  },
  {
    label: "bind mode with dataDir /etc",
    bad: bind("/etc"),
    ok: bind(DATA),
    message: 'panopticon:dataDir = "/etc": /etc is /etc, which belongs to the system',
  },
  {
    label: "bind mode with dataDir under /usr",
    bad: bind("/usr/local/panopticon"),
    ok: bind("/srv/panopticon"),
    message:
      'panopticon:dataDir = "/usr/local/panopticon": /usr/local/panopticon is inside /usr, which belongs to the system',
  },
  {
    label: "bind mode with dataDir under Docker's own /var/lib/docker",
    bad: bind("/var/lib/docker/volumes"),
    ok: bind("/var/lib/panopticon"),
    message: "is inside /var/lib/docker, which belongs to the system",
  },
  {
    label: "bind mode with dataDir /home (the directory itself)",
    bad: bind("/home/"),
    ok: bind("/home/panopticon-data"),
    message: 'panopticon:dataDir = "/home/": /home is a system directory',
  },
  {
    label: "bind mode with dataDir naming an existing file",
    bad: bind(A_FILE),
    ok: bind(TMP),
    message: `panopticon:dataDir = ${JSON.stringify(A_FILE)}: ${A_FILE} is an existing file, not a directory`,
  },
  {
    label: "bind mode with a dataDir inside the project that git does not ignore",
    bad: bind("./tests/bind-data"),
    ok: bind("./data"),
    message:
      'panopticon:dataDir = "./tests/bind-data": ' +
      `${path.resolve(__dirname, "bind-data")} is inside the project and git does not ignore it, so the databases could be committed`,
  },
  {
    label: "bind mode with dataDir the project itself",
    bad: bind("."),
    ok: bind("data"),
    message: 'panopticon:dataDir = ".": ',
  },
  {
    label: "volumeNames in bind mode",
    bad: { config: { storageMode: "bind", volumeNames: { judge: "old" } } },
    ok: { config: { storageMode: "volume", volumeNames: { judge: "old" } } },
    message: 'panopticon:volumeNames = {"judge":"old"}: applies to storageMode "volume" only',
  },
  // ---- where data lives in the container
  {
    label: "a data set mounted at / of its container",
    bad: { services: notes({ path: "/" }) },
    ok: { services: notes({ path: "/srv/notes" }) },
    message:
      'panopticon:services.notes.data.path = "/": mounting a data set at / would hide the image\'s own files',
  },
  {
    label: "a data set mounted over the container's /usr",
    bad: { services: notes({ path: "/usr" }) },
    ok: { services: notes({ path: "/usr-data" }) },
    message:
      'panopticon:services.notes.data.path = "/usr": mounting a data set at /usr would hide the image\'s own /usr',
  },
  {
    label: "a persist variable outside its mount",
    bad: {
      services: { "query-storage": { env: { CHROMA_PERSIST_DIRECTORY: "/app/data/chroma" } } },
    },
    ok: {
      services: {
        "query-storage": { env: { CHROMA_PERSIST_DIRECTORY: "/app/query_storage_data" } },
      },
    },
    message:
      'panopticon:services.query-storage.env.CHROMA_PERSIST_DIRECTORY = "/app/data/chroma": CHROMA_PERSIST_DIRECTORY must be the data mount "/app/query_storage_data"',
  },
  {
    label: "a fixed-path data set moved where its image does not read",
    bad: { services: { "model-registry": { data: { path: "/app/models" } } } },
    ok: { services: { "model-registry": { data: { path: "/app/model_registry_data" } } } },
    message:
      'panopticon:services.model-registry.data.path = "/app/models": model-registry reads its data at "/app/model_registry_data"',
  },
  {
    label: "a new service with data but no persist variable",
    bad: { services: notes({ path: "/srv/notes", persistEnv: undefined }) },
    ok: { services: notes({ path: "/srv/notes" }) },
    message:
      "panopticon:services.notes.data.persistEnv = (missing): expected the variable that names the service's data directory",
  },
  // ---- limits, ports, timings
  {
    label: "a negative CPU limit",
    bad: { services: { "judge-service": { limits: { cpus: -1 } } } },
    ok: { services: { "judge-service": { limits: { cpus: 1 } } } },
    message:
      "panopticon:services.judge-service.limits.cpus = -1: expected a positive number of CPUs, e.g. 0.5",
  },
  {
    label: "a memory limit that is not a whole number",
    bad: { services: { "judge-service": { limits: { memoryMb: 512.5 } } } },
    ok: { services: { "judge-service": { limits: { memoryMb: 512 } } } },
    message:
      "panopticon:services.judge-service.limits.memoryMb = 512.5: expected a whole number of MB, at least 16",
  },
  {
    label: "a port out of range",
    bad: { services: { postgres: { hostPort: 70000 } } },
    ok: { services: { postgres: { hostPort: 15432 } } },
    message:
      "panopticon:services.postgres.hostPort = 70000: expected an integer port between 1 and 65535",
  },
  {
    label: "a port as text",
    bad: { services: { postgres: { port: "5432x" } } },
    ok: { services: { postgres: { port: 5432 } } },
    message: 'panopticon:services.postgres.port = "5432x": expected an integer port',
  },
  {
    label: "two services on one host port",
    bad: { services: { "judge-service": { hostPort: 8000 } } },
    ok: { services: { "judge-service": { hostPort: 8013 } } },
    message:
      'duplicate published port "8000" used by both "judge-service" and "main-app": expected each to be unique; change panopticon:services.judge-service.hostPort or panopticon:services.main-app.hostPort',
  },
  {
    label: "a stop grace too short for a database",
    bad: { config: { stopGraceSeconds: 10 } },
    ok: { config: { stopGraceSeconds: 60 } },
    message: "panopticon:stopGraceSeconds = 10: expected an integer number of seconds, at least 60",
  },
  {
    label: "a healthcheck with no retries",
    bad: { services: { "main-app": { healthcheck: { retries: 0 } } } },
    ok: { services: { "main-app": { healthcheck: { retries: 1 } } } },
    message: "panopticon:services.main-app.healthcheck.retries = 0: expected at least 1 retry",
  },
  // ---- images
  {
    label: "an image with neither a tag nor a digest",
    bad: { services: { "main-app": { image: "ghcr.io/acme/main-app" } } },
    ok: { services: { "main-app": { image: "ghcr.io/acme/main-app:1.0" } } },
    message:
      'panopticon:services.main-app.image = "ghcr.io/acme/main-app": expected a tag (e.g. :15) or a digest (@sha256:...)',
  },
  {
    label: "an image digest that is cut short",
    bad: { services: { "main-app": { image: "ghcr.io/acme/main-app@sha256:abc" } } },
    ok: { services: { "main-app": { image: `ghcr.io/acme/main-app@${DIGEST}` } } },
    message: 'panopticon:services.main-app.image = "ghcr.io/acme/main-app@sha256:abc": expected a',
  },
  {
    label: "an init image with no tag",
    bad: { config: { initImage: "busybox" } },
    ok: { config: { initImage: "busybox:1.36.1" } },
    message: 'panopticon:initImage = "busybox": expected a tag (e.g. :15) or a digest',
  },
  {
    label: "an empty image",
    bad: { services: { postgres: { image: "" } } },
    ok: { services: { postgres: { image: "pgvector/pgvector:pg15" } } },
    message: 'panopticon:services.postgres.image = "": expected a container image reference',
  },
  {
    label: "a new service with no image",
    bad: { services: { extra: { port: 80 } } },
    ok: {
      services: { extra: { port: 80, image: "extra:1", healthcheck: { test: ["CMD", "true"] } } },
    },
    message: 'has no service "extra"; a service added here needs image or build.dockerfile',
  },
  // ---- names nearly right
  {
    label: "a top-level key in the wrong case",
    bad: { config: { storagemode: "bind" } },
    ok: { config: { storageMode: "bind" } },
    message: 'panopticon:storagemode is not a known setting; did you mean "storageMode"?',
  },
  {
    label: "a misspelt service setting",
    bad: { services: { postgres: { hostport: 15432 } } },
    ok: { services: { postgres: { hostPort: 15432 } } },
    message:
      'panopticon:services.postgres.hostport is not a known setting; did you mean "hostPort"?',
  },
  {
    label: "a volume for a data set that does not exist",
    bad: { config: { volumeNames: { judg: "old_judge" } } },
    ok: { config: { volumeNames: { judge: "old_judge" } } },
    message: 'panopticon:volumeNames.judg = "old_judge": no data set "judg" (known: ',
  },
  {
    label: "a volume for a data set nearly named",
    bad: { config: { volumeNames: { judg: "old_judge" } } },
    ok: { config: { volumeNames: { judge: "old_judge" } } },
    message: /no data set "judg" \(known: [^)]*\); did you mean "judge"\?/,
  },
  {
    label: "two data sets on one volume",
    bad: { config: { volumeNames: { postgres: "same", judge: "same" } } },
    ok: { config: { volumeNames: { postgres: "same", judge: "other" } } },
    message:
      'duplicate volume name "same" used by both "judge" and "postgres": expected each to be unique; change panopticon:volumeNames.judge or panopticon:volumeNames.postgres',
  },
  // ---- other values
  {
    label: "an unknown storage mode",
    bad: { config: { storageMode: "nfs" } },
    ok: { config: { storageMode: "volume" } },
    message: 'panopticon:storageMode = "nfs": expected "volume" or "bind"',
  },
  {
    label: "an unknown environment",
    bad: { config: { environment: "gcp" } },
    ok: { config: { environment: "local" } },
    message: 'panopticon:environment = "gcp": expected "local" or "aws"',
  },
  {
    label: "a host name as the bind address",
    bad: { config: { bindAddress: "localhost" } },
    ok: { config: { bindAddress: "127.0.0.1" } },
    message: 'panopticon:bindAddress = "localhost": expected an IP address',
  },
  {
    label: "an unknown log level",
    bad: { config: { logLevel: "VERBOSE" } },
    ok: { config: { logLevel: "DEBUG" } },
    message: 'panopticon:logLevel = "VERBOSE": expected a Python log level',
  },
  {
    label: "a reserved variable in env",
    bad: { services: { "judge-service": { env: { POSTGRES_PASSWORD: "x" } } } },
    ok: { services: { "judge-service": { env: { JUDGE_STORAGE_TYPE: "postgres" } } } },
    message: 'env.POSTGRES_PASSWORD: name "POSTGRES_PASSWORD" is reserved',
  },
  {
    label: "a URL to a service the stack does not have",
    bad: { services: { "main-app": { urls: { JUDGE_SERVICE_URL: "judge" } } } },
    ok: { services: { "main-app": { urls: { JUDGE_SERVICE_URL: "judge-service" } } } },
    message:
      'panopticon:services.main-app.urls.JUDGE_SERVICE_URL = "judge": no service "judge" in this stack',
  },
  {
    label: "removing a service that others call",
    bad: { services: { "query-storage": false } },
    ok: { services: { "visualization-service": false } },
    message:
      'panopticon:services.main-app.urls.QUERY_STORAGE_URL = "query-storage": no service "query-storage"',
  },
  {
    label: "a start order that never starts",
    bad: { services: { "evaluation-storage": { dependsOn: ["main-app"] } } },
    ok: { services: { "evaluation-storage": { dependsOn: ["postgres"] } } },
    message: "panopticon:services: dependsOn forms a cycle",
  },
  {
    label: "a port the healthcheck does not probe",
    bad: { services: { "main-app": { port: 9000 } } },
    ok: {
      services: {
        "main-app": {
          port: 9000,
          healthcheck: { test: ["CMD", "curl", "-f", "http://localhost:9000/health"] },
        },
      },
    },
    message:
      /panopticon:services\.main-app\.port = 9000: \S+'s healthcheck of main-app probes port 8000 .*: expected the port the healthcheck probes/,
  },
  {
    label: "a range of every address in a service's env",
    bad: { services: { "main-app": { env: { TRUSTED_NETWORKS: "0.0.0.0/0" } } } },
    ok: { services: { "main-app": { env: { TRUSTED_NETWORKS: "10.0.0.0/8" } } } },
    message:
      'panopticon:services.main-app.env.TRUSTED_NETWORKS = "0.0.0.0/0": a range of every address (/0)',
  },
  {
    label: "the IPv6 range of every address",
    bad: { services: { "main-app": { env: { TRUSTED_NETWORKS: "::/0" } } } },
    ok: { services: { "main-app": { env: { TRUSTED_NETWORKS: "fd00::/8" } } } },
    message: 'panopticon:services.main-app.env.TRUSTED_NETWORKS = "::/0": a range of every address',
  },
  // ---- AWS stacks
  {
    label: "an AWS region that does not exist",
    stack: "prod",
    bad: { aws: { region: "eu-west-l" } },
    ok: { aws: { region: "eu-west-2" } },
    message:
      'panopticon:aws.region = "eu-west-l": expected the name of an AWS region, e.g. eu-west-1; did you mean "eu-west-1"?',
  },
  {
    label: "SSH open to the whole internet",
    stack: "prod",
    bad: { aws: { adminCidrs: ["0.0.0.0/0"] } },
    ok: { aws: { adminCidrs: ["10.20.0.0/16"] } },
    message:
      'panopticon:aws.adminCidrs.0 = "0.0.0.0/0": must not open the host to the whole internet (/0)',
  },
  {
    label: "the host's data disk mounted over /etc",
    stack: "prod",
    bad: { aws: { dataMountPath: "/etc" } },
    ok: { aws: { dataMountPath: "/srv/data" } },
    message: 'panopticon:aws.dataMountPath = "/etc": /etc is /etc, which belongs to the system',
  },
  {
    label: "a misspelt RDS setting",
    stack: "prod",
    bad: { aws: { rds: { instanceClas: "db.t4g.large" } } },
    ok: { aws: { rds: { instanceClass: "db.t4g.large" } } },
    message:
      'panopticon:aws.rds.instanceClas is not a known setting; did you mean "instanceClass"?',
  },
  {
    label: "a storage backend for a data set nearly named",
    stack: "prod",
    bad: { aws: { storage: { model_registri: "efs" } } },
    ok: { aws: { storage: { model_registry: "efs" } } },
    message:
      /aws\.storage\.model_registri = "efs": no data set "model_registri" \(known: [^)]*\); did you mean "model_registry"\?/,
  },
  {
    label: "protect turned off on AWS",
    stack: "prod",
    bad: { config: { protect: false } },
    ok: { config: { protect: true } },
    message: "panopticon:protect = false: AWS stacks always protect stateful resources",
  },
];

/** Pulumi.<stack>.yaml as the CLI hands it over, with `input` applied. */
function stackConfig(stack: "dev" | "prod", input: Input): Json {
  const base = cliStackConfig(stack);
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(input.config ?? {})) out[`panopticon:${k}`] = v;
  if (input.services) {
    const services: Json = { ...((base["panopticon:services"] as Json) ?? {}) };
    for (const [name, v] of Object.entries(input.services)) {
      services[name] =
        v === false ? false : { ...((services[name] as Json) ?? {}), ...(v as Json) };
    }
    out["panopticon:services"] = services;
  }
  if (input.aws) {
    const aws: Json = { ...(base["panopticon:aws"] as Json) };
    for (const [k, v] of Object.entries(input.aws)) {
      aws[k] =
        typeof v === "object" && v !== null && !Array.isArray(v)
          ? { ...((aws[k] as Json) ?? {}), ...(v as Json) }
          : v;
    }
    out["panopticon:aws"] = aws;
  }
  return JSON.parse(JSON.stringify(out)); // drops keys set to undefined
}

function run(row: Row, input: Input): Promise<ProgramRun> {
  const stack = row.stack ?? "dev";
  return runProgram({ stack, config: stackConfig(stack, input), secrets: input.secrets });
}

it("the table holds at least 30 bad inputs, each with its own label", () => {
  expect(ROWS.length).toBeGreaterThanOrEqual(30);
  expect(new Set(ROWS.map((r) => r.label)).size).toBe(ROWS.length);
});

describe.each(ROWS)("$label", (row) => {
  it("is refused, naming key, value and expectation, with nothing registered", async () => {
    const r = await run(row, row.bad);
    expect(r.error?.name).toBe("ConfigError");
    const first = `Invalid configuration for stack "${row.stack ?? "dev"}" (nothing was created or changed):\n`;
    expect(r.error?.message.startsWith(first)).toBe(true);
    if (typeof row.message === "string") expect(r.error?.message).toContain(row.message);
    else expect(r.error?.message).toMatch(row.message);
    expect(r.resources).toEqual([]);
  }, 60_000);

  it("its accepted neighbour registers the stack", async () => {
    const r = await run(row, row.ok);
    expect(r.error?.message).toBeUndefined();
    expect(r.resources.length).toBeGreaterThan(0);
  }, 60_000);
});
