import { DataSetSettings, Settings } from "../../components/config/settings";
import { DataMount } from "./docker";
import { didYouMean } from "../../components/config/suggest";
import { EnvironmentError, RefusedError, UsageError } from "./exit-codes";
import { checkStackName as checkNamed, loadStackFile } from "./stack-file";

/*
 * Stack loading for the data tools: the same settings code (and so the same
 * volume, directory and container names) as the Pulumi program, read from
 * `Pulumi.<stack>.yaml` without the Pulumi CLI (by the one stack-file reader,
 * stack-file.ts, which promote and the bench use too).
 */

export { EnvironmentError, RefusedError, UsageError } from "./exit-codes";

/** Stack names that are always treated as production, whatever their environment says. */
const PROD_NAMES = /^(prod|production)$/i;

export function isProdStackName(stack: string): boolean {
  return PROD_NAMES.test(stack);
}

/** The `--stack` a data tool was given (stack-file.ts's rule). */
export function checkStackName(stack: string | undefined): string {
  return checkNamed("--stack", stack);
}

/** Reads and validates `<dir>/Pulumi.<stack>.yaml` (and Pulumi.yaml's defaults) into Settings. */
export function loadStack(stack: string, dir: string): Settings {
  const { settings } = loadStackFile(dir, stack, "--stack");
  // loadStackFile checks the settings unless told to leave them to an edit.
  return settings as Settings;
}

/** The data tools work on local Docker stacks only; AWS data has AWS's own backups. */
export function assertLocal(settings: Settings, tool: string): void {
  if (settings.environment === "aws") {
    throw new EnvironmentError(
      `stack "${settings.stack}" has environment "aws": ${tool} works on local Docker stacks only. ` +
        `On AWS the same ground is covered by RDS automated backups and snapshots (Postgres), ` +
        `AWS Backup (EFS) and Data Lifecycle Manager snapshots (EBS); see docs/backup.md, ` +
        `"Backups on AWS". Nothing was touched.`,
    );
  }
}

/** Where a data set lives locally. */
export function mountOf(d: DataSetSettings): DataMount {
  if (d.backend === "volume" && d.volumeName !== undefined)
    return { type: "volume", source: d.volumeName };
  if (d.backend === "bind" && d.hostPath !== undefined) return { type: "bind", source: d.hostPath };
  throw new RefusedError(
    `data set "${d.key}" uses backend "${d.backend}", which is not a local backend`,
  );
}

/** "volume panopticon-dev-judge-data" / "directory /srv/data/judge_service". */
export function describeMount(m: DataMount): string {
  return m.type === "volume" ? `volume ${m.source}` : `directory ${m.source}`;
}

/** Parses `--only a,b` against the known names; names the unknown ones. */
export function parseOnly(
  value: string | undefined,
  known: readonly string[],
): Set<string> | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !known.includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new UsageError(
      `--only = ${JSON.stringify(value)}: expected a comma-separated list of ${known.join(", ")}` +
        (unknown.length > 0
          ? ` (unknown: ${unknown.join(", ")})${unknown.length === 1 ? didYouMean(unknown[0], known) : ""}`
          : ""),
    );
  }
  return new Set(names);
}

/** Parses a seconds option (graceful stop timeouts: at least 60 s). */
export function parseSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 60 || Number(value) > 3600) {
    throw new UsageError(
      `${flag} = ${JSON.stringify(value)}: expected whole seconds between 60 and 3600`,
    );
  }
  return Number(value);
}
