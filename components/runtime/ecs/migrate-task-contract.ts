/*
 * What the ECS one-off migration task (migrate-task.ts) and migrate-data's in-task
 * mode (scripts/lib/migrate/in-task.ts) agree on: where the data sets are mounted and
 * which variables the task gets. Kept free of Pulumi imports, so the tool in the task
 * image loads it without the Pulumi SDK.
 */
import { OUTPUTS } from "../../contract";

/** Each data set's access point is mounted read-only at `<MIGRATE_MOUNT_ROOT>/<data set>`. */
export const MIGRATE_MOUNT_ROOT = "/migrate";

/** Container name in the task definition (what `--overrides` would name). */
export const MIGRATE_CONTAINER = "migrate-data";

/** Variables the task definition sets; the URL comes as a task secret. */
export const MIGRATE_TASK_ENV = {
  /** The RDS connection string (the stack's database secret, key `url`). */
  databaseUrl: "DATABASE_URL",
  /** The stack's name, for the report and the snapshot's name. */
  stack: "PANOPTICON_STACK",
  /** Comma-separated data sets mounted under MIGRATE_MOUNT_ROOT: each must be there. */
  dataSets: "PANOPTICON_MIGRATE_DATA_SETS",
  /** The RDS instance to snapshot first. */
  rdsInstance: "PANOPTICON_RDS_INSTANCE",
  /** The AWS region of the instance. */
  region: "AWS_REGION",
} as const;

/** Where the image keeps migrate-data, bundled into one file (scripts/migrate-task/Dockerfile). */
export const MIGRATE_TASK_BUNDLE = "/app/migrate-data.js";

/** The tool's command in the task. */
export const MIGRATE_TASK_COMMAND = ["node", MIGRATE_TASK_BUNDLE, "--in-task"] as const;

/** The stack output holding the task's cluster, definition and network (MigrationTaskOutputs). */
export const MIGRATION_TASK_OUTPUT = OUTPUTS.migrationTask;
