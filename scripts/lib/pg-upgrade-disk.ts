import * as fs from "fs";
import { formatBytes } from "./archive";
import { DataMount, docker, helperRunArgs } from "./docker";

/*
 * An upgrade writes the dump and a second copy of the cluster: it stops before
 * starting when a disk it writes to has less free space than the data's size
 * times the headroom.
 */

/** Free bytes on the filesystem holding a data set, as the engine sees it (remote hosts included). */
export async function freeBytes(image: string, m: DataMount): Promise<number> {
  const r = await docker(
    helperRunArgs({
      image,
      mount: m,
      readOnly: true,
      purpose: "pg-upgrade-df",
      command: ["df", "-Pk", "/data"],
    }),
  );
  const line = r.stdout.trim().split("\n").pop() ?? "";
  const avail = Number(line.split(/\s+/)[3]);
  if (!Number.isFinite(avail))
    throw new Error(`df printed ${JSON.stringify(r.stdout.trim())}: cannot read the free space`);
  return avail * 1024;
}

/** The disks without room, as sentences; empty when every disk has room. */
export function diskProblems(
  dataBytes: number,
  headroom: number,
  disks: ReadonlyArray<{ readonly what: string; readonly free: number }>,
): string[] {
  const need = Math.ceil(dataBytes * headroom);
  return disks
    .filter((d) => d.free < need)
    .map(
      (d) =>
        `${d.what} has ${formatBytes(d.free)} free, the upgrade needs ${formatBytes(need)} ` +
        `(${headroom} x the data's ${formatBytes(dataBytes)})`,
    );
}

/** Free bytes on the local filesystem holding `dir`. */
export function freeBytesLocal(dir: string): number {
  const st = fs.statfsSync(dir);
  return Number(st.bavail) * Number(st.bsize);
}
