import * as fs from "fs";
import * as path from "path";
import { DataSetSettings, ServiceSettings, Settings } from "../../components/config/settings";
import { formatBytes, PARTIAL_SUFFIX, writeFileAtomic, writeStreamed } from "./archive";
import {
  allContainers,
  assertEngine,
  ContainerInfo,
  docker,
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
import { assertLocal, mountOf, UsageError } from "./stack";
import { pushUndo } from "./undo";
import { ArchivePlan, archiveOne, report } from "./archive-one";
import { planArchives } from "./backup-plan";
import { LINK_OWNERS_SCRIPT, parseLinkOwners } from "./link-owners";
import { DEFAULT_JOBS, inParallel } from "./parallel";
import { ProgressBoard } from "./progress";

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
  /** Data sets archived at once. @default DEFAULT_JOBS */
  readonly jobs?: number;
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

export async function dataSetPresent(d: DataSetSettings): Promise<boolean> {
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

export { LINK_OWNERS_SCRIPT, parseLinkOwners };
export { planArchives } from "./backup-plan";
export type { Plan } from "./backup-plan";

/** The backup directory being written: the files in it, and how to take them away again. */
interface Output {
  readonly dir: string;
  readonly written: string[];
  readonly remove: () => void;
}

function openOutput(outDir: string): Output {
  const created = prepareOutDir(outDir);
  const written: string[] = [];
  const remove = () => {
    for (const f of written) fs.rmSync(path.join(outDir, f), { force: true });
    for (const f of fs.existsSync(outDir) ? fs.readdirSync(outDir) : []) {
      if (f.endsWith(PARTIAL_SUFFIX)) fs.rmSync(path.join(outDir, f), { force: true });
    }
    if (created && fs.existsSync(outDir) && fs.readdirSync(outDir).length === 0)
      fs.rmdirSync(outDir);
  };
  return { dir: outDir, written, remove };
}

/** The pg_dump, when Postgres runs (else a line saying why there is none). */
async function dumpStep(
  settings: Settings,
  out: Output,
  byName: ReadonlyMap<string, ContainerInfo>,
  log: (line: string) => void,
  say: (line: string) => void,
): Promise<{ dump?: DumpEntry; dumpedDataSet?: string }> {
  const pg = settings.services.find((s) => s.kind === "postgres");
  if (pg === undefined) return {};
  if (byName.get(pg.containerName)?.running !== true) {
    say(
      `postgres: container ${pg.containerName} is not running: no dump; its files are consistent ` +
        `as they stand (archived below when they exist)`,
    );
    return {};
  }
  const dump = await dumpPostgres(out.dir, settings, pg, log);
  out.written.push(dump.file);
  say(`postgres: logical dump with pg_dump from the running container ${pg.containerName}`);
  return { dump, dumpedDataSet: pg.dataSet?.key };
}

function archivedHow(p: ArchivePlan, how: string): string {
  return `${p.dataSet.key}: archived ${how} ${
    p.consistency === "container-stopped"
      ? `with ${p.stop.map((c) => c.name).join(", ")} stopped gracefully`
      : p.consistency === "container-not-running"
        ? "while its containers were stopped"
        : "(no container uses it)"
  }`;
}

/** One tar per data set that exists, its writers stopped around it, `jobs` at a time. */
async function archiveStep(
  o: BackupOptions,
  out: Output,
  containers: readonly ContainerInfo[],
  dumpedDataSet: string | undefined,
  say: (line: string) => void,
): Promise<ArchiveEntry[]> {
  const { settings, log } = o;
  const present = new Set<string>();
  // One docker call per data set, all at once: each costs a CLI start.
  const found = await Promise.all(settings.dataSets.map((d) => dataSetPresent(d)));
  settings.dataSets.forEach((d, i) => found[i] && present.add(d.key));
  const plans = planArchives({
    dataSets: settings.dataSets,
    present,
    containers,
    dumpedDataSet,
    stopWriters: o.stopWriters,
  });
  for (const p of plans) if (p.action === "skip") say(`${p.dataSet.key}: skipped: ${p.reason}`);
  const archives = plans.filter((p): p is ArchivePlan => p.action === "archive");
  const board = new ProgressBoard();
  const results = await inParallel(archives, o.jobs ?? DEFAULT_JOBS, (p) =>
    archiveOne(p, {
      outDir: out.dir,
      helperImage: o.helperImage,
      stopTimeout: o.stopTimeout,
      board,
      // A log line never lands on top of the progress line.
      log: (line) => {
        board.clear();
        log(line);
      },
    }),
  );
  return archives.map((p, i): ArchiveEntry => {
    const { w, links, how } = results[i];
    out.written.push(w.file);
    say(archivedHow(p, how));
    return {
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
    };
  });
}

function manifestOf(
  o: BackupOptions,
  run: { startedAt: Date; engineVersion: string; method: string[] },
  byName: ReadonlyMap<string, ContainerInfo>,
  entries: Entry[],
): Manifest {
  const { settings } = o;
  return {
    format: MANIFEST_FORMAT,
    project: settings.project,
    stack: settings.stack,
    storageMode: settings.storageMode,
    startedAt: run.startedAt.toISOString(),
    completedAt: new Date().toISOString(),
    helperImage: o.helperImage,
    engineVersion: run.engineVersion,
    method: run.method,
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
  // The container list is read while the engine answers `docker info`; an engine
  // that does not answer is still reported by assertEngine first.
  const listing = allContainers().catch((e: unknown) => e as Error);
  const engineVersion = await assertEngine();
  const startedAt = new Date();
  const out = openOutput(path.resolve(o.outDir));
  const undoOutput = pushUndo(`remove the incomplete backup in ${out.dir}`, out.remove);
  try {
    const containers = await listing;
    if (containers instanceof Error) throw containers;
    const byName = new Map(containers.map((c) => [c.name, c]));
    const method: string[] = [];
    const say = (line: string) => {
      method.push(line);
      log(line);
    };
    log(`backup of stack ${settings.stack} (${settings.storageMode} mode) into ${out.dir}`);
    const { dump, dumpedDataSet } = await dumpStep(settings, out, byName, log, say);
    const archives = await archiveStep(o, out, containers, dumpedDataSet, say);
    const entries: Entry[] = [...(dump ? [dump] : []), ...archives];
    if (entries.length === 0) {
      throw new UsageError(
        `stack ${settings.stack}: no data found to back up (no volume or directory of ${settings.dataSets
          .map((d) => d.key)
          .join(", ")} exists)`,
      );
    }
    const manifest = manifestOf(o, { startedAt, engineVersion, method }, byName, entries);
    // Written last: its presence is what marks the backup complete.
    writeFileAtomic(path.join(out.dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    undoOutput();
    const total = entries.reduce((n, e) => n + e.bytes, 0);
    log(
      `backup complete: ${entries.length} file(s), ${formatBytes(total)} in ` +
        `${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)} s -> ${out.dir}`,
    );
    return { dir: out.dir, manifest };
  } catch (e) {
    undoOutput();
    out.remove();
    throw e;
  }
}
