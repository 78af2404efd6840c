import * as fs from "fs";
import * as path from "path";
import { DataSetSettings, Settings } from "../../components/config/settings";
import { docker } from "./docker";
import { BackupInvalidError, Manifest, readManifest } from "./manifest";
import { mountOf } from "./stack";

/*
 * What `npm run status` shows, gathered read-only: `docker ... inspect` and
 * `docker system df` on the engine, the stack's bind directories and the backup
 * manifests on disk. Names come from the same settings code as the program.
 */

export interface ServiceStatus {
  readonly service: string;
  readonly container: string;
  /** Docker's state (running, exited, created, restarting, ...) or "missing". */
  readonly state: string;
  /** healthy, unhealthy, starting; null when the container has no healthcheck or is missing. */
  readonly health: string | null;
  /** The image the container was created from; null when there is no container. */
  readonly image: string | null;
  /** The image the stack settings name; null when it is built from source. */
  readonly configuredImage: string | null;
}

export interface BackupRef {
  /** The backup directory, relative to the project directory when inside it. */
  readonly dir: string;
  readonly completedAt: string;
  readonly ageSeconds: number;
  /** "files": an archive of the data set; "pg_dump": a logical dump of the database. */
  readonly kind: "files" | "pg_dump";
}

export interface DataSetStatus {
  readonly dataSet: string;
  readonly service: string;
  readonly backend: "volume" | "bind";
  /** Volume name or absolute host directory. */
  readonly location: string;
  readonly exists: boolean;
  /** Docker's own figure for volumes ("41.2MB"), bytes for directories; null when unknown. */
  readonly size: string | null;
  readonly sizeBytes: number | null;
  readonly keptOnTeardown: boolean;
  /** Why a teardown keeps it (or does not), from the stack's protection policy. */
  readonly keptBecause: string;
  /** True for a compose-era volume or a configured directory. */
  readonly adopted: boolean;
  readonly newestBackup: BackupRef | null;
}

export interface StackStatus {
  readonly stack: string;
  readonly project: string;
  readonly storageMode: string;
  /** False when not one container, network or data set of the stack exists. */
  readonly deployed: boolean;
  readonly network: { readonly name: string; readonly exists: boolean };
  readonly services: readonly ServiceStatus[];
  readonly dataSets: readonly DataSetStatus[];
  readonly backupsDir: string;
  /** Backup directories of this stack without a valid manifest (interrupted), ignored. */
  readonly incompleteBackups: number;
  readonly checkedAt: string;
}

interface InspectState {
  Name: string;
  State: { Status: string; Health?: { Status: string } | null };
  Config: { Image: string };
}

/** `docker container inspect` of every named container that exists (one call). */
async function inspectContainers(names: readonly string[]): Promise<Map<string, InspectState>> {
  const found = new Map<string, InspectState>();
  if (names.length === 0) return found;
  // Missing names make inspect exit 1 after printing the others.
  const r = await docker(["container", "inspect", ...names], { allowFail: true });
  const list = r.stdout.trim() === "" ? [] : (JSON.parse(r.stdout) as InspectState[]);
  for (const c of list) found.set(c.Name.replace(/^\//, ""), c);
  return found;
}

async function exists(kind: "network" | "volume", name: string): Promise<boolean> {
  return (
    (await docker([kind, "inspect", "--format", "{{.Name}}", name], { allowFail: true })).code === 0
  );
}

/** Docker's size figure per volume name, from `docker system df -v`; empty when it fails. */
async function volumeSizes(): Promise<Map<string, string>> {
  const r = await docker(["system", "df", "-v", "--format", "{{json .Volumes}}"], {
    allowFail: true,
  });
  const sizes = new Map<string, string>();
  if (r.code !== 0) return sizes;
  try {
    for (const v of JSON.parse(r.stdout) as Array<{ Name: string; Size: string }>)
      sizes.set(v.Name, v.Size);
  } catch {
    // An engine whose df output we cannot read: sizes stay unknown.
  }
  return sizes;
}

/** Bytes under a directory, links not followed; null when part of it cannot be read. */
export function directoryBytes(dir: string): number | null {
  let total = 0;
  const stack = [dir];
  try {
    while (stack.length > 0) {
      const d = stack.pop() as string;
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) stack.push(p);
        else total += fs.lstatSync(p).size;
      }
    }
  } catch {
    return null;
  }
  return total;
}

export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return u === 0 ? `${n}B` : `${v.toFixed(v < 10 ? 2 : 1)}${units[u]}`;
}

/** What a teardown does to one data set, from the stack's protection policy. */
export function teardownOf(settings: Settings, d: DataSetSettings): [boolean, string] {
  const p = settings.protection;
  if (d.backend === "bind") return [true, "kept: a directory, which Pulumi never deletes"];
  if (p.protect) return [true, "kept: protect (destroy refuses) and retainOnDelete"];
  if (p.retainOnDelete) return [true, "kept: retainOnDelete (dropped from state only)"];
  return [false, "deleted by pulumi destroy"];
}

interface FoundBackup {
  readonly dir: string;
  readonly manifest: Manifest;
}

/** Complete backups of this stack under `backupsDir`, and how many incomplete ones. */
export function stackBackups(
  backupsDir: string,
  stack: string,
): { backups: FoundBackup[]; incomplete: number } {
  const backups: FoundBackup[] = [];
  let incomplete = 0;
  if (!fs.existsSync(backupsDir)) return { backups, incomplete };
  for (const e of fs.readdirSync(backupsDir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const dir = path.join(backupsDir, e.name);
    try {
      const manifest = readManifest(dir);
      if (manifest.stack === stack) backups.push({ dir, manifest });
    } catch (err) {
      // Only count directories that look like this stack's (named by the backup tool).
      if (err instanceof BackupInvalidError && e.name.startsWith(`${stack}-`)) incomplete += 1;
      else if (!(err instanceof BackupInvalidError)) throw err;
    }
  }
  return { backups, incomplete };
}

/** The newest complete backup holding this data set (its files, or for Postgres a dump). */
export function newestBackupOf(
  backups: readonly FoundBackup[],
  d: DataSetSettings,
  postgresService: string | undefined,
  projectDir: string,
  now: Date,
): BackupRef | null {
  let best: BackupRef | null = null;
  for (const b of backups) {
    const files = b.manifest.entries.some((e) => e.kind === "archive" && e.dataSet === d.key);
    const dump =
      d.service === postgresService &&
      b.manifest.entries.some((e) => e.kind === "pg_dump" && e.service === d.service);
    if (!files && !dump) continue;
    if (best !== null && b.manifest.completedAt <= best.completedAt) continue;
    const rel = path.relative(projectDir, b.dir);
    best = {
      dir: rel.startsWith("..") ? b.dir : rel,
      completedAt: b.manifest.completedAt,
      ageSeconds: Math.max(
        0,
        Math.round((now.getTime() - Date.parse(b.manifest.completedAt)) / 1000),
      ),
      kind: files ? "files" : "pg_dump",
    };
  }
  return best;
}

/** Gathers the status of a local stack; reads only. */
export async function stackStatus(
  settings: Settings,
  projectDir: string,
  now = new Date(),
): Promise<StackStatus> {
  const containers = await inspectContainers(settings.services.map((s) => s.containerName));
  const services: ServiceStatus[] = settings.services.map((s) => {
    const c = containers.get(s.containerName);
    return {
      service: s.name,
      container: s.containerName,
      state: c?.State.Status ?? "missing",
      health: c?.State.Health?.Status ?? null,
      image: c?.Config.Image ?? null,
      configuredImage: (s as { image?: string }).image ?? null,
    };
  });

  const backupsDir = path.join(projectDir, "backups");
  const { backups, incomplete } = stackBackups(backupsDir, settings.stack);
  const postgres = settings.services.find((s) => s.kind === "postgres")?.name;
  const sizes = settings.dataSets.some((d) => d.backend === "volume")
    ? await volumeSizes()
    : new Map<string, string>();
  const dataSets: DataSetStatus[] = [];
  for (const d of settings.dataSets) {
    const m = mountOf(d);
    const present =
      m.type === "volume" ? await exists("volume", m.source) : fs.existsSync(m.source);
    const bytes = present && m.type === "bind" ? directoryBytes(m.source) : null;
    const [kept, because] = teardownOf(settings, d);
    dataSets.push({
      dataSet: d.key,
      service: d.service,
      backend: m.type,
      location: m.source,
      exists: present,
      size: !present
        ? null
        : m.type === "volume"
          ? (sizes.get(m.source) ?? null)
          : bytes === null
            ? null
            : formatBytes(bytes),
      sizeBytes: bytes,
      keptOnTeardown: kept,
      keptBecause: because,
      adopted: d.adopted,
      newestBackup: newestBackupOf(backups, d, postgres, projectDir, now),
    });
  }
  const network = {
    name: settings.networkName,
    exists: await exists("network", settings.networkName),
  };
  // A bind directory that exists was not necessarily made by the stack (adopted
  // compose data): only containers, the network and volumes show a deployment.
  const deployed =
    network.exists ||
    services.some((s) => s.state !== "missing") ||
    dataSets.some((d) => d.backend === "volume" && d.exists);
  return {
    stack: settings.stack,
    project: settings.project,
    storageMode: settings.storageMode,
    deployed,
    network,
    services,
    dataSets,
    backupsDir,
    incompleteBackups: incomplete,
    checkedAt: now.toISOString(),
  };
}
