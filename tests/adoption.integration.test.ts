import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cliStackConfig, ProgramRun, runProgram } from "./support/harness";
import {
  destroy,
  docker,
  dockerAvailable,
  purgeAll,
  startFixturePostgres,
  up,
} from "./support/docker-cli";
import { CONTRACT } from "./support/compose-contract";

/*
 * Adopting compose-era data on a real engine, both ways compose kept it:
 * the external volumes of DB_PERSISTENCE.md (panopticon_*_data) and the ./data/*
 * directories of BIND_MOUNT_README.md. The fixture is made as compose made it:
 * a Postgres 15 cluster initialised with POSTGRES_USER=postgres, POSTGRES_DB=panopticon
 * and the compose password, with rows written; a ChromaDB-like chroma.sqlite3 and a
 * segment directory at the root of each ChromaDB data set. Then the program's
 * registrations are replayed: every service must find its data where it reads it.
 *
 * The test Postgres is Debian's postgresql-15, without pgvector (Debian has none):
 * the fixture has no `vector` extension. App stand-ins are busybox (the real images
 * need PyPI).
 */

jest.setTimeout(300_000);

const PG_IMAGE = process.env.PANOPTICON_TEST_POSTGRES_IMAGE ?? "panopticon-test/postgres:15";
const BUSYBOX = process.env.PANOPTICON_TEST_BUSYBOX_IMAGE ?? "panopticon-test/busybox:1";
const COMPOSE_PASSWORD = "postgres"; // compose's POSTGRES_PASSWORD
const ROWS = 500;
const DATA_APPS = Object.keys(CONTRACT).filter((s) => s !== "postgres" && CONTRACT[s].data);
const APP_COMMAND = [
  "sh",
  "-c",
  "mkdir -p /tmp/www && echo ok > /tmp/www/health && httpd -p 8000 -h /tmp/www && " +
    "trap 'exit 0' TERM && while :; do sleep 1; done",
];
const APP_HEALTH = {
  test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8000/health"],
};
/** What a ChromaDB persistent client leaves at the root of its directory. */
const SEGMENT = "6f1d3c2a-0b7e-4c55-9a51-3f2e8d1c0a99";

function stackConfig(over: Record<string, unknown>): Record<string, unknown> {
  const port = 30000 + (process.pid % 20000);
  const dev = cliStackConfig("dev");
  // Every app pinned to the stand-in: nothing is built from the checkout.
  const services = Object.fromEntries(
    Object.keys(CONTRACT)
      .filter((s) => s !== "postgres")
      .map((s) => [
        s,
        { image: BUSYBOX, hostPort: false, command: APP_COMMAND, healthcheck: APP_HEALTH },
      ]),
  );
  return {
    ...dev,
    "panopticon:stopGraceSeconds": 60,
    "panopticon:initImage": BUSYBOX,
    "panopticon:services": { ...services, postgres: { image: PG_IMAGE, hostPort: port } },
    ...Object.fromEntries(Object.entries(over).map(([k, v]) => [`panopticon:${k}`, v])),
  };
}

const imageFor = (i: Record<string, unknown>) =>
  String(i.name).endsWith("-postgres") ? PG_IMAGE : BUSYBOX;

/** Runs a shell script in a throwaway busybox with the data set mounted at /d. */
function inDataSet(mount: string, script: string): string {
  return docker(["run", "--rm", "--mount", `${mount},dst=/d`, BUSYBOX, "sh", "-c", script]);
}

/** A Postgres 15 cluster made as compose made it, with ROWS rows; stopped cleanly. */
function composeEraPostgres(mount: string, name: string): void {
  startFixturePostgres(name, mount, COMPOSE_PASSWORD);
  const sql = (q: string) =>
    docker(["exec", name, "psql", "-U", "postgres", "-d", "panopticon", "-tAc", q]);
  sql(
    `CREATE TABLE evaluations (id int PRIMARY KEY, prompt text); ` +
      `INSERT INTO evaluations SELECT g, 'prompt ' || g FROM generate_series(1, ${ROWS}) g`,
  );
  docker(["stop", "--time", "60", name]);
  docker(["rm", name]);
}

/** chroma.sqlite3 and one segment directory at the root, as ChromaDB keeps them. */
function composeEraChroma(mount: string, tag: string): void {
  inDataSet(
    mount,
    `printf 'SQLite format 3\\000%s' ${tag} > /d/chroma.sqlite3 && mkdir -p /d/${SEGMENT} && ` +
      `printf '%s' ${tag} > /d/${SEGMENT}/data_level0.bin && printf 'hnsw' > /d/${SEGMENT}/header.bin`,
  );
}

/** A fingerprint of everything the fixture holds: checksums of files and the rows. */
function fingerprint(stack: string): string {
  const parts: string[] = [];
  for (const app of DATA_APPS) {
    const dir = CONTRACT[app].data!.path;
    parts.push(
      docker([
        "exec",
        `panopticon-${stack}-${app}`,
        "sh",
        "-c",
        `cd ${dir} && find . -type f | sort | xargs md5sum`,
      ]),
    );
  }
  parts.push(pgCount(stack, COMPOSE_PASSWORD));
  return createHash("sha256").update(parts.join("\n")).digest("hex");
}

/**
 * Counts the rows the way an app connects: the DATABASE_URL judge-service was given,
 * over the stack's network, from a separate client container.
 */
function pgCount(stack: string, password: string): string {
  const env = docker([
    "inspect",
    "--format",
    "{{json .Config.Env}}",
    `panopticon-${stack}-judge-service`,
  ]);
  const url = (JSON.parse(env) as string[]).find((e) => e.startsWith("DATABASE_URL="))!.slice(13);
  const withPassword = url.replace(
    /:\/\/postgres:[^@]*@/,
    `://postgres:${encodeURIComponent(password)}@`,
  );
  return docker(
    [
      "run",
      "--rm",
      "--network",
      `panopticon-${stack}-net`,
      "--entrypoint",
      "psql",
      PG_IMAGE,
      withPassword,
      "-tAc",
      "SELECT count(*) FROM evaluations",
    ],
    { allowFail: true },
  );
}

beforeAll(() => {
  if (!dockerAvailable()) {
    throw new Error("no Docker engine: run `bash scripts/docker-setup.sh` first (see README)");
  }
});

describe.each(["compose volumes", "bind"] as const)("adopting compose-era data: %s", (mode) => {
  const stack = `ad${process.pid}${mode[0]}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-compose-era-"));
  const mountOf = (set: string) => {
    const data = Object.values(CONTRACT).find((r) => r.data?.set === set)!.data!;
    return mode === "bind"
      ? `type=bind,src=${path.join(dataDir, data.bindDir)}`
      : `type=volume,src=${data.composeVolume}`;
  };
  let run: ProgramRun;

  beforeAll(async () => {
    const sets = Object.values(CONTRACT).flatMap((r) => (r.data ? [r.data] : []));
    if (mode === "compose volumes") {
      // These names are global on the engine: never touch a volume that is already there.
      const existing = docker(["volume", "ls", "--format", "{{.Name}}"]).split("\n");
      const clash = sets.map((d) => d.composeVolume).filter((v) => existing.includes(v));
      if (clash.length > 0)
        throw new Error(`refusing to reuse existing volumes ${clash.join(", ")}`);
      for (const d of sets) docker(["volume", "create", d.composeVolume]);
    } else {
      for (const d of sets) fs.mkdirSync(path.join(dataDir, d.bindDir));
    }
    composeEraPostgres(mountOf("postgres"), `${stack}-compose-postgres`);
    for (const app of DATA_APPS) composeEraChroma(mountOf(CONTRACT[app].data!.set), app);

    run = await runProgram({
      stack,
      config: stackConfig(
        mode === "bind" ? { storageMode: "bind", dataDir } : { adoptComposeVolumes: true },
      ),
      secrets: { postgresPassword: COMPOSE_PASSWORD },
    });
    if (run.error) throw run.error;
    up(run.resources, imageFor);
  });

  afterAll(() => {
    if (run) purgeAll(run.resources);
    docker(["rm", "-f", `${stack}-compose-postgres`], { allowFail: true });
    if (mode === "compose volumes") {
      for (const r of Object.values(CONTRACT))
        if (r.data) docker(["volume", "rm", "-f", r.data.composeVolume], { allowFail: true });
    } else {
      // Postgres's files belong to uid 999: remove them from inside a container.
      docker(["run", "--rm", "-v", `${dataDir}:/d`, BUSYBOX, "sh", "-c", "rm -rf /d/*"], {
        allowFail: true,
      });
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("Postgres 15 starts on the compose cluster; the apps' role authenticates with the compose password", () => {
    expect(
      docker([
        "exec",
        `panopticon-${stack}-postgres`,
        "cat",
        "/var/lib/postgresql/data/PG_VERSION",
      ]),
    ).toBe("15");
    expect(pgCount(stack, COMPOSE_PASSWORD)).toBe(String(ROWS));
    // The non-compliant twin: any other password (a generated one) is refused by the old cluster.
    expect(pgCount(stack, "a-generated-password")).not.toBe(String(ROWS));
  });

  test.each(DATA_APPS)("%s finds its files at its persist path", (app) => {
    const c = `panopticon-${stack}-${app}`;
    const dataset = CONTRACT[app].data!;
    const dir = dataset.persistEnv
      ? docker(["exec", c, "sh", "-c", `printf %s "$${dataset.persistEnv}"`])
      : dataset.path;
    expect(dir).toBe(dataset.path);
    expect(docker(["exec", c, "cat", `${dir}/chroma.sqlite3`])).toBe(`SQLite format 3\u0000${app}`);
    expect(docker(["exec", c, "cat", `${dir}/${SEGMENT}/data_level0.bin`])).toBe(app);
  });

  test("a destroy followed by an up changes nothing", () => {
    const before = fingerprint(stack);
    const kept = destroy(run.resources);
    if (mode === "compose volumes") {
      expect(kept.filter((k) => k.startsWith("panopticon_")).sort()).toEqual(
        Object.values(CONTRACT)
          .flatMap((r) => (r.data ? [r.data.composeVolume] : []))
          .sort(),
      );
    }
    expect(docker(["ps", "-aq", "--filter", `name=^panopticon-${stack}-`])).toBe("");
    up(run.resources, imageFor);
    expect(fingerprint(stack)).toBe(before);
    expect(pgCount(stack, COMPOSE_PASSWORD)).toBe(String(ROWS));
  });
});
