import { spawn } from "child_process";
import { rdsIdentifier } from "../../../components/config/aws";
import { awsSettingsOf, Settings } from "../../../components/config/settings";
import { physicalName, PROJECT } from "../../../components/config/naming";
import { EnvironmentError, UsageError } from "../exit-codes";
import { pgEnvOf } from "./pg";

/*
 * migrate-data on an AWS stack whose runtime is the Docker host: where the tool reaches
 * (the host's engine, RDS by URL) and the backup it starts with, an RDS snapshot and an
 * EBS snapshot of the host's data disk, both through one AWS function (the AWS CLI by
 * default) that tests replace. ECS has no Docker host: its copy runs in the one-off
 * task (in-task.ts), and the Docker-host path refuses it (exit 3).
 */

/** The variable the operator puts the RDS connection string in. */
export const DATABASE_URL_ENV = "PANOPTICON_DATABASE_URL";

/** The psql image when the stack names none: the ECS pgvector init container's default. */
export const DEFAULT_PSQL_IMAGE = "public.ecr.aws/docker/library/postgres:15-bookworm";

/**
 * Refuses an ECS stack in the Docker-host path (there is no Docker host), in one line
 * naming the way that works: the one-off task, whose runbook migrate-data prints.
 */
export function refuseEcs(settings: Settings): void {
  if (settings.target.kind !== "ecs") return;
  throw new EnvironmentError(
    `stack "${settings.stack}" runs on ECS (panopticon:aws.runtime ecs): there is no Docker host to migrate from; ` +
      `the copy runs as the stack's one-off task, nothing was touched. Runbook: docs/migration.md, "AWS on ECS" ` +
      `(npm run migrate-data -- --stack ${settings.stack} prints it)`,
  );
}

/** The RDS connection string from the operator's environment; exit 2 when missing or not a URL. */
export function databaseUrl(env: NodeJS.ProcessEnv): string {
  const url = env[DATABASE_URL_ENV];
  if (url === undefined || url.trim() === "") {
    throw new UsageError(
      `${DATABASE_URL_ENV} is not set: export ${DATABASE_URL_ENV}=$(pulumi stack output connectionString --stack <stack> --show-secrets)`,
    );
  }
  try {
    pgEnvOf(url.trim());
  } catch (e) {
    // The value itself is never printed: it holds the password.
    throw new UsageError(
      `${DATABASE_URL_ENV}: ${(e as Error).message}; expected postgresql://user:password@host:port/database (the value is not shown)`,
    );
  }
  return url.trim();
}

/**
 * The Docker host's engine: the stack's own panopticon:aws.dockerHost (what `pulumi up`
 * reaches), else DOCKER_HOST from the environment, as the other tools reach a remote
 * engine. Exit 3 when neither names one.
 */
export function dockerHostOf(
  settings: Settings,
  env: NodeJS.ProcessEnv,
): { host: string; from: string } {
  const own = awsSettingsOf(settings)?.dockerHost;
  if (own !== undefined) return { host: own, from: "panopticon:aws.dockerHost" };
  const e = env.DOCKER_HOST;
  if (e !== undefined && e !== "") return { host: e, from: "DOCKER_HOST" };
  throw new EnvironmentError(
    `stack "${settings.stack}" names no Docker host (panopticon:aws.dockerHost) and DOCKER_HOST is not set: ` +
      `set DOCKER_HOST=ssh://ec2-user@<host alias> (docs/production.md, SSM)`,
  );
}

export interface AwsBackupPlan {
  readonly region: string;
  readonly rds: { readonly identifier: string; readonly snapshotIdentifier: string };
  /** The host's EBS data disk; undefined when no data set is on it. */
  readonly ebs?: {
    /** --ebs-volume-id or aws.adopt.ebsVolumeId; else found by its Name tag. */
    readonly volumeId?: string;
    readonly nameTag: string;
    readonly description: string;
  };
  /** Data sets on EFS: covered by AWS Backup, no snapshot taken here. */
  readonly efsDataSets: readonly string[];
}

export interface AwsBackupResult {
  readonly rdsSnapshot: string;
  readonly ebsSnapshot?: string;
}

/** The one AWS function: both snapshots, each waited for; throws when either fails. */
export type AwsBackupFn = (plan: AwsBackupPlan) => Promise<AwsBackupResult>;

function stamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "z")
    .toLowerCase();
}

/** The manual snapshot taken before a migration: `<instance>-before-migrate-<UTC time>`. */
export const beforeMigrateSnapshot = (identifier: string, now: Date) =>
  `${identifier}-before-migrate-${stamp(now)}`.slice(0, 255);

export function planAwsBackup(settings: Settings, now: Date, ebsVolumeId?: string): AwsBackupPlan {
  const a = awsSettingsOf(settings);
  if (a === undefined) throw new UsageError(`stack ${settings.stack} is not an AWS stack`);
  const identifier =
    a.adopt.rdsInstanceIdentifier ?? rdsIdentifier(settings.project, settings.stack);
  const onEbs = settings.dataSets.filter((d) => d.backend === "ebs");
  return {
    region: a.region,
    rds: {
      identifier,
      snapshotIdentifier: beforeMigrateSnapshot(identifier, now),
    },
    ebs:
      onEbs.length === 0
        ? undefined
        : {
            volumeId: ebsVolumeId ?? a.adopt.ebsVolumeId,
            nameTag: physicalName(PROJECT, settings.stack, "data"),
            description: `panopticon ${settings.stack} before migrate-data ${stamp(now)}`,
          },
    efsDataSets: settings.dataSets.filter((d) => d.backend === "efs").map((d) => d.key),
  };
}

/** Runs `aws ...args --region R`; its stdout. */
function awsCli(region: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn("aws", [...args, "--region", region], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    c.on("error", (e) => reject(new Error(`cannot run the AWS CLI (aws): ${e.message}`)));
    c.on("close", (code) =>
      code === 0
        ? resolve(out.trim())
        : reject(new Error(`aws ${args.slice(0, 2).join(" ")} failed (exit ${code})`)),
    );
  });
}

/** The AWS CLI: RDS snapshot (waited until available), then the EBS snapshot (until completed). */
export const awsCliBackup: AwsBackupFn = async (plan) => {
  const aws = (args: readonly string[]) => awsCli(plan.region, args);
  const rds = plan.rds;
  await aws([
    "rds",
    "create-db-snapshot",
    "--db-instance-identifier",
    rds.identifier,
    "--db-snapshot-identifier",
    rds.snapshotIdentifier,
  ]);
  await aws([
    "rds",
    "wait",
    "db-snapshot-available",
    "--db-snapshot-identifier",
    rds.snapshotIdentifier,
  ]);
  if (plan.ebs === undefined) return { rdsSnapshot: rds.snapshotIdentifier };
  let volumeId = plan.ebs.volumeId;
  if (volumeId === undefined) {
    const found = (
      await aws([
        "ec2",
        "describe-volumes",
        "--filters",
        `Name=tag:Name,Values=${plan.ebs.nameTag}`,
        "Name=attachment.status,Values=attached",
        "--query",
        "Volumes[].VolumeId",
        "--output",
        "text",
      ])
    )
      .split(/\s+/)
      .filter(Boolean);
    if (found.length !== 1) {
      throw new Error(
        `expected one attached EBS volume tagged Name=${plan.ebs.nameTag}, found ${found.length}: name it with --ebs-volume-id`,
      );
    }
    volumeId = found[0];
  }
  const snap = await aws([
    "ec2",
    "create-snapshot",
    "--volume-id",
    volumeId,
    "--description",
    plan.ebs.description,
    "--query",
    "SnapshotId",
    "--output",
    "text",
  ]);
  if (!/^snap-[0-9a-f]+$/.test(snap)) {
    throw new Error(`aws ec2 create-snapshot printed no snapshot id (${JSON.stringify(snap)})`);
  }
  await aws(["ec2", "wait", "snapshot-completed", "--snapshot-ids", snap]);
  return { rdsSnapshot: rds.snapshotIdentifier, ebsSnapshot: `${snap} of ${volumeId}` };
};

/** What the report's `backup` says for an AWS run. */
export function describeAwsBackup(plan: AwsBackupPlan, r: AwsBackupResult): string {
  const parts = [`RDS snapshot ${r.rdsSnapshot} of ${plan.rds.identifier}`];
  if (r.ebsSnapshot !== undefined)
    parts.push(`EBS snapshot ${r.ebsSnapshot} (the host's data disk)`);
  if (plan.efsDataSets.length > 0) {
    parts.push(
      `EFS data sets ${plan.efsDataSets.join(", ")}: AWS Backup (the file system's backup policy), no snapshot taken here`,
    );
  }
  return parts.join("; ");
}
