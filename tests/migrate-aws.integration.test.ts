import { spawn, spawnSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { writeChroma } from "../scripts/bench/chroma-fixture";
import { Report } from "../scripts/lib/migrate/report";
import { dockerHostStack, ecsStack } from "./support/migrate-aws-stacks";
import { docs } from "./support/migrate-docs";
import { putChroma, rdsStandIn, volumeDigest } from "./support/migrate-fixture";
import { BUSYBOX, PG_IMAGE } from "./support/pg-engine";
import { AwsBackupPlan } from "../scripts/lib/migrate/aws";
import { runMigrate } from "../scripts/lib/migrate/run";
import { copyChroma } from "../scripts/lib/migrate/sources";
import { loadStack } from "../scripts/lib/stack";

/*
 * npm run migrate-data on an AWS stack (runtime docker-host), on the real engine with
 * stand-ins made here: the "Docker host" is this engine (panopticon:aws.dockerHost
 * names its socket), "RDS" is a Postgres container reached only by DB_URL over a Docker
 * network (never docker exec), the ebs data sets are host directories under the
 * stack's aws.dataMountPath, the efs one a Docker volume, and the AWS CLI is a script
 * that records its calls (and a failing twin). Nothing here talks to AWS.
 */

jest.setTimeout(600_000);

const RUN = randomBytes(3).toString("hex");
const REPO = path.resolve(__dirname, "..");
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-migaws-"));
const HOST_DATA = path.join(TMP, "hostdata");
const BIN = path.join(TMP, "bin");
const NET = `panopticon-test-migaws-${RUN}`;
const RDS = `panopticon-test-migaws-rds-${RUN}`;
const PASSWORD = `Pw${randomBytes(12).toString("hex")}`;
const DB_URL = `postgresql://postgres:${PASSWORD}@${RDS}:5432/panopticon`;
const STACK = `maws${RUN}`;
const ECS_STACK = `mawsecs${RUN}`;
const SOCKET = "unix:///var/run/docker.sock";

function sh(cmd: string, args: string[], o: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    input: o.input,
    env: { ...process.env, ...o.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 4).join(" ")}: ${r.stderr}`);
  return (r.stdout ?? "").trim();
}
const docker = (args: string[], allowFail = false) => {
  try {
    return sh("docker", args);
  } catch (e) {
    if (allowFail) return "";
    throw e;
  }
};

/** SQL against "RDS" the only way the tool may reach it too (tests/support/migrate-fixture.ts). */
const stand = rdsStandIn(NET, RDS, PASSWORD);
const rds = stand.sql;

fs.mkdirSync(BIN);
// The AWS CLI stand-in: records each call; AWS_STUB_FAIL makes create-db-snapshot fail.
fs.writeFileSync(
  path.join(BIN, "aws"),
  [
    "#!/bin/sh",
    'printf "%s\\n" "$*" >> "$AWS_STUB_LOG"',
    'case "$1 $2" in',
    '  "rds create-db-snapshot") if [ -n "$AWS_STUB_FAIL" ]; then echo "An error occurred (InvalidDBInstanceState)" >&2; exit 254; fi ;;',
    '  "ec2 describe-volumes") echo vol-0123456789abcdef0 ;;',
    '  "ec2 create-snapshot") echo snap-0fedcba9876543210 ;;',
    "esac",
    "exit 0",
    "",
  ].join("\n"),
  { mode: 0o755 },
);
// The docker CLI the tool runs (PANOPTICON_DOCKER): logs every argv, then the real one.
fs.writeFileSync(
  path.join(BIN, "docker-logged"),
  ["#!/bin/sh", 'printf "%s\\n" "$*" >> "$DOCKER_ARGV_LOG"', 'exec docker "$@"', ""].join("\n"),
  { mode: 0o755 },
);
dockerHostStack(TMP, STACK, {
  dockerHost: SOCKET, // the "Docker host" is this engine
  dataMountPath: HOST_DATA,
  storage: { judge: "efs", query: "ebs", evaluation: "ebs", model_registry: "efs" },
});
ecsStack(TMP, ECS_STACK);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every process argv seen while the tool ran that held the password. */
  leakedArgv: string[];
  /** Helper containers seen while running, and their Path/Args/Cmd. */
  helpers: string[];
}

/** migrate-data as `npm run` starts it, with the stand-in AWS CLI first on PATH. */
function migrate(args: string[], env: NodeJS.ProcessEnv, watch = false): Promise<Ran> {
  return new Promise((resolve) => {
    const c = spawn(
      process.execPath,
      ["--import", "tsx", path.join("scripts", "migrate-data.ts"), "--dir", TMP, ...args],
      {
        cwd: REPO,
        env: {
          ...process.env,
          PATH: `${BIN}:${process.env.PATH}`,
          PANOPTICON_DOCKER: path.join(BIN, "docker-logged"),
          AWS_STUB_LOG: path.join(TMP, "aws-calls.log"),
          DOCKER_ARGV_LOG: path.join(TMP, "docker-argv.log"),
          ...env,
        },
      },
    );
    const out: Ran = { code: null, stdout: "", stderr: "", leakedArgv: [], helpers: [] };
    let done = false;
    const poll = async () => {
      while (watch && !done) {
        const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout ?? "";
        out.leakedArgv.push(...ps.split("\n").filter((l) => l.includes(PASSWORD)));
        const ids = docker(["ps", "-q", "--filter", "label=io.panopticon.helper=psql"], true);
        for (const id of ids.split("\n").filter(Boolean)) {
          const seen = docker(
            ["inspect", "--format", "{{json .Path}} {{json .Args}} {{json .Config.Cmd}}", id],
            true,
          );
          if (seen !== "") out.helpers.push(seen);
        }
        await new Promise((r) => setTimeout(r, 150));
      }
    };
    void poll();
    c.stdout.on("data", (b: Buffer) => (out.stdout += b.toString()));
    c.stderr.on("data", (b: Buffer) => (out.stderr += b.toString()));
    c.on("close", (code) => {
      done = true;
      out.code = code;
      resolve(out);
    });
  });
}

const itemsTables = () =>
  rds(
    "SELECT count(*) FROM pg_class WHERE relname IN ('items_queries', 'items_metrics', 'llm_outputs')",
  );
const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

const query = docs("queries", 30);
const evaluation = docs("evaluation_metrics", 20);
const judge = docs("llm_outputs", 15);
const ebsFiles = [
  path.join(HOST_DATA, STACK, "query_storage", "chroma.sqlite3"),
  path.join(HOST_DATA, STACK, "evaluation_storage", "chroma.sqlite3"),
];
const judgeVolume = `panopticon-${STACK}-judge-data`;
const before: Record<string, string> = {};

beforeAll(async () => {
  await stand.start(40);
  fs.mkdirSync(path.dirname(ebsFiles[0]), { recursive: true });
  fs.mkdirSync(path.dirname(ebsFiles[1]), { recursive: true });
  writeChroma(ebsFiles[0], [{ name: "queries", docs: query }]);
  writeChroma(ebsFiles[1], [{ name: "evaluation_metrics", docs: evaluation }]);
  putChroma(STACK, "judge", [{ name: "llm_outputs", docs: judge }]);
  before.query = sha(ebsFiles[0]);
  before.evaluation = sha(ebsFiles[1]);
  before.judge = volumeDigest(judgeVolume);
  before.queries = rds(
    "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM queries t",
  );
});

afterAll(() => {
  docker(["rm", "-f", RDS], true);
  docker(["network", "rm", NET], true);
  docker(["volume", "rm", "-f", judgeVolume], true);
  fs.rmSync(TMP, { recursive: true, force: true });
});

const base = ["--stack", STACK, "--psql-image", PG_IMAGE, "--psql-network", NET];
const reportFile = path.join(TMP, "report.json");
const readReport = () => JSON.parse(fs.readFileSync(reportFile, "utf8")) as Report;
const awsCalls = () =>
  fs.existsSync(path.join(TMP, "aws-calls.log"))
    ? fs.readFileSync(path.join(TMP, "aws-calls.log"), "utf8").trim().split("\n")
    : [];

describe("refusals before anything is touched", () => {
  it("PANOPTICON_DATABASE_URL missing: exit 2, one line naming it", async () => {
    const r = await migrate(base, { PANOPTICON_DATABASE_URL: "" });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/PANOPTICON_DATABASE_URL is not set: export PANOPTICON_DATABASE_URL=/);
    expect(awsCalls()).toEqual([]);
    expect(itemsTables()).toBe("0");
  });

  it("an ECS stack: prints the one-off task's runbook from the stack's outputs, touches nothing", async () => {
    const fake = path.join(TMP, "fake-pulumi");
    fs.writeFileSync(
      fake,
      `#!/bin/sh\n[ "$3" = migrationTask ] || exit 1\necho '${JSON.stringify({
        cluster: `panopticon-${ECS_STACK}`,
        taskDefinition: `panopticon-${ECS_STACK}-migrate-data`,
        subnets: ["subnet-a"],
        securityGroups: ["sg-data"],
        logGroup: `/panopticon/${ECS_STACK}/migrate-data`,
        container: "migrate-data",
      })}'\n`,
      { mode: 0o755 },
    );
    const r = await migrate(["--stack", ECS_STACK], {
      PANOPTICON_DATABASE_URL: DB_URL,
      PANOPTICON_PULUMI: fake,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `aws ecs run-task --region eu-west-1 --cluster panopticon-${ECS_STACK} --task-definition panopticon-${ECS_STACK}-migrate-data`,
    );
    expect(r.stdout).toContain("subnets=[subnet-a],securityGroups=[sg-data]");
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(awsCalls()).toEqual([]);
    expect(itemsTables()).toBe("0");
  });

  it("RDS that does not accept the URL: exit 1 before any snapshot, the wrong password not shown", async () => {
    const wrong = `Wrong${randomBytes(6).toString("hex")}`;
    const r = await migrate(base, { PANOPTICON_DATABASE_URL: DB_URL.replace(PASSWORD, wrong) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /cannot reach postgresql:\/\/postgres@panopticon-test-migaws-rds-\w+:5432\/panopticon .*password authentication failed.*nothing was changed/,
    );
    expect(r.stderr).not.toContain(wrong);
    expect(awsCalls()).toEqual([]);
  });

  it("a failed RDS snapshot aborts: exit 1, nothing migrated, no EBS call after it", async () => {
    const r = await migrate([...base, "--report", reportFile], {
      PANOPTICON_DATABASE_URL: DB_URL,
      AWS_STUB_FAIL: "1",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /the snapshot failed, so nothing was migrated: aws rds create-db-snapshot failed/,
    );
    expect(awsCalls()).toHaveLength(1);
    expect(awsCalls()[0]).toMatch(
      /^rds create-db-snapshot --db-instance-identifier panopticon-maws\w+-postgres /,
    );
    expect(itemsTables()).toBe("0");
    expect(fs.existsSync(reportFile)).toBe(false);
    expect(`${r.stdout}${r.stderr}`).not.toContain(PASSWORD);
    fs.rmSync(path.join(TMP, "aws-calls.log"));
  });
});

describe("ChromaDB on the Docker host", () => {
  it("an ebs directory the host does not have, or an efs volume it does not have, holds no store", async () => {
    const settings = loadStack(STACK, TMP);
    const gone = settings.dataSets.map((d) =>
      d.key === "query" && d.hostPath !== undefined
        ? { ...d, hostPath: path.join(HOST_DATA, "absent", "query_storage") }
        : d,
    );
    const out = fs.mkdtempSync(path.join(TMP, "copy-"));
    const copy = (key: string) => copyChroma({ ...settings, dataSets: gone }, key, BUSYBOX, out);
    expect(await copy("query")).toBeUndefined();
    expect(await copy("model_registry")).toBeUndefined();
    expect(fs.existsSync(path.join(HOST_DATA, "absent"))).toBe(false);
    expect(await copy("evaluation")).toBe(path.join(out, "evaluation", "chroma.sqlite3"));
  });
});

describe("the injectable AWS function", () => {
  it("is handed the plan; a twin that fails aborts before anything is copied (in-process)", async () => {
    const calls: AwsBackupPlan[] = [];
    await expect(
      runMigrate({
        settings: loadStack(STACK, TMP),
        projectDir: TMP,
        helperImage: BUSYBOX,
        log: () => undefined,
        aws: {
          url: DB_URL,
          psqlImage: PG_IMAGE,
          network: NET,
          backup: async (plan) => {
            calls.push(plan);
            throw new Error("SnapshotQuotaExceeded");
          },
        },
      }),
    ).rejects.toThrow(/the snapshot failed, so nothing was migrated: SnapshotQuotaExceeded/);
    expect(calls).toHaveLength(1);
    expect(calls[0].rds.identifier).toBe(`panopticon-${STACK}-postgres`);
    expect(calls[0].ebs?.nameTag).toBe(`panopticon-${STACK}-data`);
    expect(calls[0].efsDataSets).toEqual(["judge", "model_registry"]);
    expect(itemsTables()).toBe("0");
    expect(docker(["ps", "-aq", "--filter", "label=io.panopticon.helper"])).toBe("");
  });
});

describe("a full migration through the URL, snapshots first", () => {
  let first: Ran;
  beforeAll(async () => {
    fs.rmSync(path.join(TMP, "docker-argv.log"), { force: true });
    first = await migrate(
      [...base, "--report", reportFile],
      { PANOPTICON_DATABASE_URL: DB_URL },
      true,
    );
  });

  it("takes the RDS snapshot, then the EBS snapshot of the data disk, before copying", () => {
    expect(first.stderr).toMatch(
      /snapshots taken: RDS snapshot panopticon-maws\w+-postgres-before-migrate-\d{8}t\d{6}z/,
    );
    expect(first.stderr.indexOf("snapshots taken")).toBeLessThan(
      first.stderr.indexOf("table queries: copying"),
    );
    const calls = awsCalls();
    expect(calls.map((c) => c.split(" ").slice(0, 3).join(" "))).toEqual([
      "rds create-db-snapshot --db-instance-identifier",
      "rds wait db-snapshot-available",
      "ec2 describe-volumes --filters",
      "ec2 create-snapshot --volume-id",
      "ec2 wait snapshot-completed",
    ]);
    expect(calls[2]).toContain(`Name=tag:Name,Values=panopticon-${STACK}-data`);
    expect(calls[3]).toContain("--volume-id vol-0123456789abcdef0");
    expect(calls.every((c) => c.endsWith("--region eu-west-1"))).toBe(true);
    const r = readReport();
    expect(r.backup).toMatch(/EBS snapshot snap-0fedcba9876543210 of vol-0123456789abcdef0/);
    expect(r.backup).toMatch(/EFS data sets judge, model_registry: AWS Backup/);
  });

  it("migrates the table, the two ebs collections and the efs one, and verifies each", () => {
    const r = readReport();
    expect(first.code).toBe(0);
    expect(r.problems).toEqual([]);
    expect(
      r.sources.map((s) => [s.source, s.target, s.read, s.inserted, s.alreadyPresent]),
    ).toEqual([
      ["table queries", "items_queries", 40, 40, 0],
      ["collection evaluation_metrics in data set evaluation", "items_metrics", 20, 20, 0],
      ["collection llm_outputs in data set judge", "llm_outputs", 15, 15, 0],
      ["collection queries in data set query", "items_queries", 30, 30, 0],
    ]);
    for (const s of r.sources) {
      expect(s.verification?.equal).toBe(s.verification?.sampled);
      expect(s.verification?.similarity?.found).toBe(true);
    }
    expect(rds("SELECT count(*) FROM items_queries")).toBe("70");
    expect(rds("SELECT count(*) FROM items_metrics")).toBe("20");
    expect(rds("SELECT count(*) FROM llm_outputs")).toBe("15");
    expect(rds(`SELECT item_text FROM items_queries WHERE id = '${query[3].id}'`)).toBe(
      query[3].text,
    );
  });

  it("never shows the password: no argv (docker CLI or any process, helpers included), no output, no report", () => {
    const argv = fs.readFileSync(path.join(TMP, "docker-argv.log"), "utf8");
    expect(argv).toMatch(
      /^run --rm .*-e PGHOST -e PGPORT -e PGUSER -e PGPASSWORD -e PGDATABASE --entrypoint psql /m,
    );
    expect(argv).not.toContain(PASSWORD);
    expect(argv).not.toContain(DB_URL);
    expect(first.leakedArgv).toEqual([]);
    expect(first.helpers.length).toBeGreaterThan(0);
    for (const h of first.helpers) expect(h).not.toContain(PASSWORD);
    expect(first.stdout + first.stderr).not.toContain(PASSWORD);
    expect(fs.readFileSync(reportFile, "utf8")).not.toContain(PASSWORD);
    expect(docker(["ps", "-aq", "--filter", "label=io.panopticon.helper"])).toBe("");
  });

  it("only reads the originals: the ebs files, the efs volume and the table are unchanged", () => {
    expect(sha(ebsFiles[0])).toBe(before.query);
    expect(sha(ebsFiles[1])).toBe(before.evaluation);
    expect(volumeDigest(judgeVolume)).toBe(before.judge);
    expect(
      rds("SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM queries t"),
    ).toBe(before.queries);
  });

  it("a rerun finds every row present and inserts nothing", async () => {
    const again = await migrate([...base, "--report", reportFile], {
      PANOPTICON_DATABASE_URL: DB_URL,
    });
    expect(again.code).toBe(0);
    for (const s of readReport().sources)
      expect([s.source, s.inserted, s.alreadyPresent]).toEqual([s.source, 0, s.read]);
    expect(rds("SELECT count(*) FROM items_queries")).toBe("70");
  });
});
