import * as fs from "fs";
import { formatBytes, Progress } from "./archive";
import { docker } from "./docker";

/*
 * pg-upgrade's restore: the pg_dumpall file fed to psql in the new server, with the
 * bytes sent shown every few seconds like backup and restore do (a large cluster
 * takes minutes here, and silence reads as a hang).
 */

export interface RestoreDumpOptions {
  /** The throw-away server of the target major. */
  readonly container: string;
  readonly user: string;
  readonly file: string;
  readonly log: (line: string) => void;
  /** How often a progress line is printed. @default 2000 */
  readonly everyMs?: number;
}

/** Restores the dump; returns psql's stderr (the caller decides which errors matter). */
export async function restoreDump(o: RestoreDumpOptions): Promise<string> {
  const total = fs.statSync(o.file).size;
  const progress = new Progress(`restore of ${formatBytes(total)}`, o.everyMs ?? 2000, o.log);
  const r = await docker(
    [
      "exec",
      "-i",
      o.container,
      "psql",
      "-X",
      "-q",
      "-U",
      o.user,
      "-d",
      "postgres",
      "-v",
      "ON_ERROR_STOP=0",
      "-f",
      "-",
    ],
    { input: fs.createReadStream(o.file).pipe(progress) },
  );
  o.log(
    `restored ${formatBytes(progress.bytes)} of ${formatBytes(total)} in ${progress.seconds().toFixed(1)} s (${progress.rate()})`,
  );
  return r.stderr;
}
