import { formatBytes, writeStreamed, WrittenFile } from "./archive";
import type { Plan } from "./backup-plan";
import { archiveDirect } from "./direct-archive";
import { DataMount, docker, helperRunArgs } from "./docker";
import { parseLinkOwners, LINK_OWNERS_SCRIPT } from "./link-owners";
import { ProgressBoard } from "./progress";
import { describeMount } from "./stack";
import { withStopped } from "./writers";

async function symlinkOwners(image: string, mount: DataMount): Promise<Array<[string, string]>> {
  const r = await docker(
    helperRunArgs({
      image,
      mount,
      readOnly: true,
      purpose: "backup-links",
      command: ["sh", "-c", LINK_OWNERS_SCRIPT],
    }),
  );
  return parseLinkOwners(r.stdout);
}

export function report(log: (line: string) => void, w: WrittenFile): void {
  log(
    `  wrote ${w.file}: ${formatBytes(w.bytes)} in ${w.seconds.toFixed(1)} s, sha256 ${w.sha256.slice(0, 16)}...`,
  );
}

export type ArchivePlan = Extract<Plan, { action: "archive" }>;

/**
 * One data set's archive, its writers stopped around it: straight into the backup
 * directory from the helper container when the engine shares it, else streamed.
 */
export async function archiveOne(
  p: ArchivePlan,
  o: {
    outDir: string;
    helperImage: string;
    stopTimeout: number;
    board: ProgressBoard;
    log: (line: string) => void;
  },
): Promise<{ w: WrittenFile; links: Array<[string, string]>; how: string }> {
  const file = `${p.dataSet.key}.tar`;
  o.log(`${p.dataSet.key}: archiving ${describeMount(p.mount)}`);
  return withStopped(p.stop, o.stopTimeout, o.log, async () => {
    const direct = await archiveDirect({
      outDir: o.outDir,
      file,
      label: p.dataSet.key,
      image: o.helperImage,
      mount: p.mount,
      board: o.board,
    });
    if (direct !== "not-shared") {
      report(o.log, direct.w);
      return { ...direct, how: "in the helper container" };
    }
    o.log(`  ${p.dataSet.key}: the engine does not share ${o.outDir}: streaming the archive`);
    const w = await writeStreamed(o.outDir, file, p.dataSet.key, (sink) =>
      docker(
        helperRunArgs({
          image: o.helperImage,
          mount: p.mount,
          readOnly: true,
          purpose: "backup",
          command: ["tar", "-c", "-f", "-", "-C", "/data", "."],
        }),
        { output: sink },
      ).then(() => undefined),
    );
    report(o.log, w);
    return { w, links: await symlinkOwners(o.helperImage, p.mount), how: "as a stream" };
  });
}
