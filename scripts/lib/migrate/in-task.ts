import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  MIGRATE_MOUNT_ROOT,
  MIGRATE_TASK_ENV as ENV,
} from "../../../components/runtime/ecs/migrate-task-contract";
import { EnvironmentError, UsageError } from "../exit-codes";
import { AwsBackupFn, AwsBackupPlan, beforeMigrateSnapshot, describeAwsBackup } from "./aws";
import { listCollections, openChroma } from "./chroma";
import { copyAll } from "./copy-all";
import { describePg, PgDirect, pgEnvOf, psql, urlLabel } from "./pg";
import { Report } from "./report";
import { ChromaStore, collectionTarget, sourceTables } from "./sources";

/*
 * migrate-data --in-task: the ECS one-off task (components/runtime/ecs/migrate-task.ts).
 * Everything comes from the task: the RDS URL from its secret, the data sets from
 * their access points, mounted read-only under /migrate, the instance to snapshot
 * from its environment. psql runs in the task itself. Every data set the task
 * definition names must be mounted: a missing one stops the run before anything is
 * touched (exit 3). Backup first is a manual RDS snapshot, waited for; the EFS data
 * sets are only read (AWS Backup keeps them). The report goes to stdout, i.e. the
 * task's log, since the task keeps no files.
 */

export interface InTaskOptions {
  readonly env: NodeJS.ProcessEnv;
  /** The RDS snapshot (the AWS CLI in the image). */
  readonly backup: AwsBackupFn;
  readonly log: (line: string) => void;
  /** @default MIGRATE_MOUNT_ROOT (/migrate) */
  readonly mountRoot?: string;
}

export interface InTaskPlan {
  readonly url: string;
  readonly stack: string;
  readonly dataSets: readonly string[];
  readonly rdsInstance: string;
  readonly region: string;
}

/** The task's variables, every problem at once (exit 2); the URL's value is never shown. */
export function inTaskPlan(env: NodeJS.ProcessEnv): InTaskPlan {
  const problems: string[] = [];
  const need = (name: string): string => {
    const v = env[name]?.trim() ?? "";
    if (v === "") problems.push(`${name} is not set (the task definition sets it)`);
    return v;
  };
  const url = need(ENV.databaseUrl);
  if (url !== "") {
    try {
      pgEnvOf(url);
    } catch (e) {
      problems.push(
        `${ENV.databaseUrl}: ${(e as Error).message}; expected postgresql://user:password@host:port/database (the value is not shown)`,
      );
    }
  }
  const stack = need(ENV.stack);
  const rdsInstance = need(ENV.rdsInstance);
  const region = need(ENV.region);
  const dataSets = (env[ENV.dataSets] ?? "")
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d !== "");
  for (const d of dataSets) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(d)) {
      problems.push(`${ENV.dataSets}: "${d}" is not a data set name (lower case, digits, _ and -)`);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join("; "));
  return { url, stack, dataSets, rdsInstance, region };
}

/** The mounted data sets' ChromaDB files, copied into `tmp`; exit 3 when a mount is missing. */
export function mountedChroma(
  root: string,
  dataSets: readonly string[],
  tmp: string,
): ChromaStore[] {
  const missing = dataSets.filter(
    (d) => !fs.statSync(path.join(root, d), { throwIfNoEntry: false })?.isDirectory(),
  );
  if (missing.length > 0) {
    throw new EnvironmentError(
      `data set(s) ${missing.join(", ")} not mounted at ${missing.map((d) => path.join(root, d)).join(", ")}: ` +
        `the task definition names them, so their access points must be mounted; nothing was changed`,
    );
  }
  const out: ChromaStore[] = [];
  for (const d of dataSets) {
    const src = path.join(root, d, "chroma.sqlite3");
    if (!fs.existsSync(src)) continue;
    const into = path.join(tmp, d);
    fs.mkdirSync(into, { recursive: true });
    // Only the copy is opened: SQLite never touches the original, even read-only.
    for (const f of ["chroma.sqlite3", "chroma.sqlite3-wal"]) {
      if (fs.existsSync(path.join(root, d, f)))
        fs.copyFileSync(path.join(root, d, f), path.join(into, f));
    }
    const file = path.join(into, "chroma.sqlite3");
    const db = openChroma(file);
    try {
      for (const c of listCollections(db)) {
        if (collectionTarget(c.name) !== undefined) {
          out.push({ dataSet: d, where: path.join(root, d), file, collection: c });
        }
      }
    } finally {
      db.close();
    }
  }
  return out;
}

export async function runInTask(o: InTaskOptions): Promise<{ report: Report; exitCode: 0 | 1 }> {
  const plan = inTaskPlan(o.env);
  const root = o.mountRoot ?? MIGRATE_MOUNT_ROOT;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-migrate-"));
  try {
    const collections = mountedChroma(root, plan.dataSets, tmp);
    const pg: PgDirect = { kind: "direct", url: plan.url, label: urlLabel(plan.url) };
    await psql(pg, ["SELECT 1"], { transaction: false }).catch((e: Error) => {
      throw new Error(`cannot reach ${describePg(pg)}: ${e.message}; nothing was changed`);
    });
    const tables = await sourceTables(pg);
    const planned = [
      ...tables.map((t) => `table ${t}`),
      ...collections.map((s) => `collection ${s.collection.name} in data set ${s.dataSet}`),
    ];
    o.log(
      `migrate-data: stack ${plan.stack} (ECS task): ${planned.length} source(s): ${planned.join(", ") || "none"}`,
    );
    const startedAt = new Date();
    let backup = "(nothing to migrate: no backup taken)";
    if (planned.length > 0) {
      const snap: AwsBackupPlan = {
        region: plan.region,
        rds: {
          identifier: plan.rdsInstance,
          snapshotIdentifier: beforeMigrateSnapshot(plan.rdsInstance, startedAt),
        },
        efsDataSets: plan.dataSets,
      };
      o.log(
        `migrate-data: backup first: RDS snapshot ${snap.rds.snapshotIdentifier} of ${snap.rds.identifier}`,
      );
      try {
        backup = describeAwsBackup(snap, await o.backup(snap));
      } catch (e) {
        throw new Error(`the snapshot failed, so nothing was migrated: ${(e as Error).message}`);
      }
      o.log(`migrate-data: snapshot taken: ${backup}`);
    }
    const report = await copyAll({
      pg,
      stack: plan.stack,
      startedAt,
      backup,
      tables,
      collections,
      reportFile: path.join(tmp, "migrate-report.json"),
      log: o.log,
    });
    return { report, exitCode: report.problems.length > 0 ? 1 : 0 };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
