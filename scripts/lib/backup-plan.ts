import { DataSetSettings } from "../../components/config/settings";
import { ContainerInfo, containersUsing, DataMount } from "./docker";
import { ArchiveEntry } from "./manifest";
import { describeMount, mountOf } from "./stack";

/*
 * What a backup does to each data set, decided before anything is touched: its own
 * module so that the archiving step (archive-one.ts) and the backup (backup-core.ts)
 * both read it without importing each other.
 */

/** What one data set needs, decided before anything is touched. */
export type Plan =
  | { readonly action: "skip"; readonly dataSet: DataSetSettings; readonly reason: string }
  | {
      readonly action: "archive";
      readonly dataSet: DataSetSettings;
      readonly mount: DataMount;
      /** Running containers to stop around the archive. */
      readonly stop: readonly ContainerInfo[];
      readonly consistency: ArchiveEntry["consistency"];
    };

/**
 * Decides, per data set, whether to archive it and which writers to stop. Pure:
 * the facts about the engine come in as arguments.
 */
export function planArchives(opts: {
  readonly dataSets: readonly DataSetSettings[];
  readonly present: ReadonlySet<string>;
  readonly containers: readonly ContainerInfo[];
  /** Data-set key of Postgres, when its dump is taken. */
  readonly dumpedDataSet?: string;
  readonly stopWriters: boolean;
}): Plan[] {
  return opts.dataSets.map((d): Plan => {
    const mount = mountOf(d);
    if (!opts.present.has(d.key)) {
      return { action: "skip", dataSet: d, reason: `${describeMount(mount)} does not exist` };
    }
    const users = containersUsing(opts.containers, mount);
    const running = users.filter((c) => c.running);
    if (d.key === opts.dumpedDataSet && running.length > 0 && !opts.stopWriters) {
      return {
        action: "skip",
        dataSet: d,
        reason:
          "Postgres is running: its logical dump (pg_dump) is the consistent copy; " +
          "raw volume archive skipped (--stop-writers stops Postgres to archive the volume as well)",
      };
    }
    return {
      action: "archive",
      dataSet: d,
      mount,
      stop: running,
      consistency:
        running.length > 0
          ? "container-stopped"
          : users.length > 0
            ? "container-not-running"
            : "no-container",
    };
  });
}
