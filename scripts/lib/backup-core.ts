import * as fs from "fs";
import * as path from "path";
import { DataSetSettings, ServiceSettings, Settings } from "../../components/settings";
import {
  formatBytes,
  PARTIAL_SUFFIX,
  writeFileAtomic,
  writeStreamed,
  WrittenFile,
} from "./archive";
import {
  allContainers,
  assertEngine,
  ContainerInfo,
  containersUsing,
  DataMount,
  docker,
  helperRunArgs,
  psqlQuery,
  volumeExists,
} from "./docker";
import {
  ArchiveEntry,
  DumpEntry,
  Entry,
  Manifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
} from "./manifest";
import { assertLocal, describeMount, mountOf, UsageError } from "./stack";
import { pushUndo } from "./undo";
import { withStopped } from "./writers";

export interface BackupOptions {
  readonly settings: Settings;
  /** The backup directory; created, and must be new or empty. */
  readonly outDir: string;
  /** Image of the helper container that runs tar. */
  readonly helperImage: string;
  /** Also stop a running Postgres for a raw archive of its volume (the dump is taken first). */
  readonly stopWriters: boolean;
  /** Graceful stop timeout in seconds (at least 60). */
  readonly stopTimeout: number;
  readonly log: (line: string) => void;
}

/** `backups/dev-20260101T120000Z` under the project directory. */
export function defaultBackupDir(
  projectDir: string,
  stack: string,
  now: Date,
  suffix = "",
): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return path.join(projectDir, "backups", `${stack}-${stamp}${suffix}`);
}

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

function prepareOutDir(outDir: string): boolean {
  if (fs.existsSync(outDir)) {
    if (!fs.statSync(outDir).isDirectory() || fs.readdirSync(outDir).length > 0) {
      throw new UsageError(
        `--out = ${JSON.stringify(outDir)}: expected a new or empty directory (it exists and is not empty)`,
      );
    }
    return false;
  }
  fs.mkdirSync(outDir, { recursive: true });
  return true;
}

async function dataSetPresent(d: DataSetSettings): Promise<boolean> {
  const m = mountOf(d);
  if (m.type === "volume") return volumeExists(m.source);
  return fs.existsSync(m.source) && fs.statSync(m.source).isDirectory();
}

async function dumpPostgres(
  dir: string,
  settings: Settings,
  pg: ServiceSettings,
  log: (line: string) => void,
): Promise<DumpEntry> {
  const { database, user } = settings.postgres;
  const version = await psqlQuery(pg.containerName, settings.postgres, "SHOW server_version");
  log(
    `pg_dump of database ${database} in ${pg.containerName} (Postgres ${version}, custom format)`,
  );
  const w = await writeStreamed(dir, `${pg.name}.pgdump`, `${pg.name} pg_dump`, (sink) =>
    docker(["exec", pg.containerName, "pg_dump", "-U", user, "-d", database, "-Fc"], {
      output: sink,
    }).then(() => undefined),
  );
  report(log, w);
  return {
    kind: "pg_dump",
    service: pg.name,
    database,
    user,
    format: "custom",
    file: w.file,
    bytes: w.bytes,
    sha256: w.sha256,
    serverVersion: version,
  };
}

/** Lists `find` output as NUL-separated "uid:gid", "./path" pairs (any file name survives). */
export const LINK_OWNERS_SCRIPT =
  "cd /data && find . -type l -exec sh -c " +
  `'for f in "$@"; do printf "%s\\0%s\\0" "$(stat -c %u:%g "$f")" "$f"; done' sh {} +`;

/** Parses LINK_OWNERS_SCRIPT output, keeping links not owned by root (tar restores those). */
export function parseLinkOwners(out: string): Array<[string, string]> {
  const parts = out.split("\0");
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const [owner, file] = [parts[i] as string, parts[i + 1] as string];
    if (owner !== "0:0") pairs.push([owner, file]);
  }
  return pairs;
}

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

function report(log: (line: string) => void, w: WrittenFile): void {
  log(
    `  wrote ${w.file}: ${formatBytes(w.bytes)} in ${w.seconds.toFixed(1)} s, sha256 ${w.sha256.slice(0, 16)}...`,
  );
}

/**
 * Backs up every local data set of the stack into `outDir`: one tar per data set,
 * a pg_dump when Postgres runs, and manifest.json written last. On failure the
 * files written so far are removed and stopped containers are started again.
 */
export async function runBackup(o: BackupOptions): Promise<{ dir: string; manifest: Manifest }> {
  const { settings, log } = o;
  assertLocal(settings, "backup");
  if (o.stopTimeout < 60) {
    throw new UsageError(`--stop-timeout = ${o.stopTimeout}: expected at least 60 seconds`);
  }
  const engineVersion = await assertEngine();
  const startedAt = new Date();
  const outDir = path.resolve(o.outDir);
  const created = prepareOutDir(outDir);
  const written: string[] = [];
  const removeOutput = () => {
    for (const f of written) fs.rmSync(path.join(outDir, f), { force: true });
    for (const f of fs.existsSync(outDir) ? fs.readdirSync(outDir) : []) {
      if (f.endsWith(PARTIAL_SUFFIX)) fs.rmSync(path.join(outDir, f), { force: true });
    }
    if (created && fs.existsSync(outDir) && fs.readdirSync(outDir).length === 0)
      fs.rmdirSync(outDir);
  };
  const undoOutput = pushUndo(`remove the incomplete backup in ${outDir}`, removeOutput);
  try {
    const containers = await allContainers();
    const byName = new Map(containers.map((c) => [c.name, c]));
    const method: string[] = [];
    const say = (line: string) => {
      method.push(line);
      log(line);
    };
    log(`backup of stack ${settings.stack} (${settings.storageMode} mode) into ${outDir}`);

    const entries: Entry[] = [];
    const pg = settings.services.find((s) => s.kind === "postgres");
    const pgRunning = pg !== undefined && byName.get(pg.containerName)?.running === true;
    if (pg !== undefined && pgRunning) {
      const dump = await dumpPostgres(outDir, settings, pg, log);
      written.push(dump.file);
      entries.push(dump);
      say(`postgres: logical dump with pg_dump from the running container ${pg.containerName}`);
    } else if (pg !== undefined) {
      say(
        `postgres: container ${pg.containerName} is not running: no dump; its files are consistent ` +
          `as they stand (archived below when they exist)`,
      );
    }

    const present = new Set<string>();
    for (const d of settings.dataSets) if (await dataSetPresent(d)) present.add(d.key);
    const plans = planArchives({
      dataSets: settings.dataSets,
      present,
      containers,
      dumpedDataSet: pgRunning ? pg?.dataSet?.key : undefined,
      stopWriters: o.stopWriters,
    });
    for (const p of plans) {
      if (p.action === "skip") {
        say(`${p.dataSet.key}: skipped: ${p.reason}`);
        continue;
      }
      const file = `${p.dataSet.key}.tar`;
      log(`${p.dataSet.key}: archiving ${describeMount(p.mount)}`);
      const { w, links } = await withStopped(p.stop, o.stopTimeout, log, async () => {
        const w = await writeStreamed(outDir, file, p.dataSet.key, (sink) =>
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
        written.push(w.file);
        report(log, w);
        return { w, links: await symlinkOwners(o.helperImage, p.mount) };
      });
      say(
        `${p.dataSet.key}: archived ${
          p.consistency === "container-stopped"
            ? `with ${p.stop.map((c) => c.name).join(", ")} stopped gracefully`
            : p.consistency === "container-not-running"
              ? "while its containers were stopped"
              : "(no container uses it)"
        }`,
      );
      entries.push({
        kind: "archive",
        dataSet: p.dataSet.key,
        service: p.dataSet.service,
        backend: p.mount.type,
        source: p.mount.source,
        file: w.file,
        bytes: w.bytes,
        sha256: w.sha256,
        consistency: p.consistency,
        ...(links.length > 0 ? { symlinkOwners: links } : {}),
      });
    }
    if (entries.length === 0) {
      throw new UsageError(
        `stack ${settings.stack}: no data found to back up (no volume or directory of ${settings.dataSets
          .map((d) => d.key)
          .join(", ")} exists)`,
      );
    }

    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      project: settings.project,
      stack: settings.stack,
      storageMode: settings.storageMode,
      startedAt: startedAt.toISOString(),
      completedAt: new Date().toISOString(),
      helperImage: o.helperImage,
      engineVersion,
      method,
      images: settings.services.map((s) => {
        const c = byName.get(s.containerName);
        return {
          service: s.name,
          configured: s.image ?? "(built from source)",
          container: c?.image,
          imageId: c?.imageId,
        };
      }),
      entries,
    };
    // Written last: its presence is what marks the backup complete.
    writeFileAtomic(path.join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    undoOutput();
    const total = entries.reduce((n, e) => n + e.bytes, 0);
    log(
      `backup complete: ${entries.length} file(s), ${formatBytes(total)} in ` +
        `${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)} s -> ${outDir}`,
    );
    return { dir: outDir, manifest };
  } catch (e) {
    undoOutput();
    removeOutput();
    throw e;
  }
}
