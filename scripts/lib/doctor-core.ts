import * as path from "path";
import { pgVersionMismatch } from "../../components/pg-version";
import { DataSetSettings, ServiceSettings, Settings } from "../../components/config/settings";
import { formatBytes } from "./archive";
import {
  assertEngine,
  ContainerInfo,
  DataMount,
  docker,
  DockerError,
  helperRunArgs,
  inspectContainer,
  volumeExists,
} from "./docker";
import { inParallel } from "./parallel";
import { countStores, Finding, judgeStores } from "./doctor-stores";
import { storeServicesOf } from "./migrate/sources";
import { storesRead } from "../../components/stores";
import { assertLocal, describeMount, mountOf } from "./stack";

/*
 * npm run doctor: per data set, is the data where the service reads it? The
 * directory (volume or bind directory) the container mounts must be the one the
 * stack names, mounted exactly where the service's persist variable points; and
 * Postgres's PG_VERSION must be the major the stack runs. Read-only: nothing is
 * started, stopped or written.
 */

/** What a helper container finds in one data set. */
export interface Probe {
  /** Contents of PG_VERSION at the root, if any. */
  readonly pgVersion?: string;
  /** Entries at the root (hidden ones included). */
  readonly entries: number;
  readonly bytes: number;
}

export type { Finding };

const PROBE_SCRIPT =
  "cd /data && { [ -f PG_VERSION ] && head -c 16 PG_VERSION || echo -; } && ls -A | wc -l && du -sk . | cut -f1";

export function parseProbe(out: string): Probe {
  const [pg, entries, kib] = out.trim().split(/\s+/);
  return {
    pgVersion: pg === "-" || pg === undefined ? undefined : pg,
    entries: Number(entries ?? 0),
    bytes: Number(kib ?? 0) * 1024,
  };
}

function envOf(c: ContainerInfo, key: string): string | undefined {
  const line = c.env.find((e) => e.startsWith(`${key}=`));
  return line?.slice(key.length + 1);
}

const inside = (p: string, root: string) =>
  p === root || p.startsWith(root.replace(/\/$/, "") + "/");

/** The facts about one data set that doctor judges. */
export interface Facts {
  readonly settings: Settings;
  readonly service: ServiceSettings;
  readonly dataSet: DataSetSettings;
  readonly exists: boolean;
  readonly probe?: Probe;
  readonly container?: ContainerInfo;
}

/** Collects one data set's findings: `ok` and `bad` add one each. */
class Findings {
  readonly out: Finding[] = [];
  constructor(private readonly key: string) {}
  ok(message: string): void {
    this.out.push({ dataSet: this.key, ok: true, message });
  }
  bad(message: string): void {
    this.out.push({ dataSet: this.key, ok: false, message });
  }
}

/**
 * The verdicts on one data set from the facts about it. Pure: the engine's
 * answers come in as arguments.
 */
export function judge(opts: Facts): Finding[] {
  const { dataSet: d, service: svc } = opts;
  const f = new Findings(d.key);
  const configured = d.persistEnv ? svc.env.find(([k]) => k === d.persistEnv)?.[1] : undefined;
  if (d.persistEnv && configured !== d.mountPath) {
    f.bad(
      `the stack sets ${d.persistEnv}=${configured ?? "(unset)"} but mounts the data at ${d.mountPath}: ` +
        `the service would read another directory`,
    );
  }
  judgeData(opts, f);
  const c = opts.container;
  if (c === undefined) {
    f.ok(`no container ${svc.containerName}: nothing mounts it now`);
    return f.out;
  }
  judgeMount(opts, c, f);
  if (d.persistEnv) judgePersistEnv(d, d.persistEnv, c, f);
  return f.out;
}

/** What the data set holds, and (Postgres) whether its PG_VERSION is the stack's major. */
function judgeData(opts: Facts, f: Findings): void {
  const { dataSet: d, service: svc, settings } = opts;
  const where = describeMount(mountOf(d));
  if (!opts.exists) {
    f.ok(`${where} does not exist yet: the next pulumi up creates it empty`);
    return;
  }
  const p = opts.probe;
  if (p === undefined) return;
  f.ok(
    p.entries === 0
      ? `${where} exists and is empty`
      : `${where} holds data: ${p.entries} entr${p.entries === 1 ? "y" : "ies"}, ${formatBytes(p.bytes)}`,
  );
  const major = settings.postgres.major;
  if (svc.kind !== "postgres" || p.pgVersion === undefined || major === undefined) return;
  if (p.pgVersion !== String(major)) {
    f.bad(
      pgVersionMismatch({
        stack: settings.stack,
        dataDir: where,
        found: p.pgVersion,
        major,
        image: svc.image,
      }),
    );
  } else {
    f.ok(`PG_VERSION ${p.pgVersion} matches the stack's Postgres ${major}`);
  }
}

/** Whether the container mounts the stack's data, at the data set's path. */
function judgeMount(opts: Facts, c: ContainerInfo, f: Findings): void {
  const d = opts.dataSet;
  const m = mountOf(d);
  const where = describeMount(m);
  const at = c.mounts.find((x) => x.destination === d.mountPath);
  const expected = m.type === "volume" ? m.source : path.resolve(m.source);
  const actual = at ? (at.type === "volume" ? at.name : at.source) : undefined;
  if (at === undefined) {
    f.bad(`container ${c.name} mounts nothing at ${d.mountPath}: it runs without ${where}`);
  } else if (actual !== expected) {
    f.bad(
      `container ${c.name} mounts ${at.type} ${actual} at ${d.mountPath}, not ${where}: ` +
        `it runs on other data than the stack names`,
    );
  } else {
    f.ok(`container ${c.name} mounts ${where} at ${d.mountPath}`);
  }
}

/** Whether the container's persist variable points at the mount's root. */
function judgePersistEnv(d: DataSetSettings, key: string, c: ContainerInfo, f: Findings): void {
  const p = envOf(c, key);
  if (p === undefined) {
    f.bad(`container ${c.name} has no ${key}: the service falls back to its own default`);
  } else if (p === d.mountPath) {
    f.ok(`${key}=${p} is the mounted directory`);
  } else if (inside(p, d.mountPath)) {
    f.bad(
      `${key}=${p} is a subdirectory of the mount ${d.mountPath}: the service starts ` +
        `empty there while the data at the mount's root sits unread`,
    );
  } else {
    f.bad(
      `${key}=${p} is outside the mount ${d.mountPath}: the service writes into the ` +
        `container's own layer, which the next replacement deletes`,
    );
  }
}

/**
 * The probe, or undefined when the data set does not exist. A bind directory is
 * looked for by the engine itself (`--mount` refuses a missing source), so a
 * remote Docker host is answered for its own disk.
 */
export async function probeIfPresent(image: string, m: DataMount): Promise<Probe | undefined> {
  if (m.type === "volume" && !(await volumeExists(m.source))) return undefined;
  const args = helperRunArgs({
    image,
    mount: m,
    readOnly: true,
    purpose: "doctor",
    command: ["sh", "-c", PROBE_SCRIPT],
  });
  const r = await docker(args, { allowFail: true });
  if (r.code === 0) return parseProbe(r.stdout);
  if (m.type === "bind" && /bind source path does not exist/i.test(r.stderr)) return undefined;
  throw new DockerError(args, r.code, r.stderr);
}

export interface DoctorResult {
  readonly findings: readonly Finding[];
  readonly problems: number;
  /** What could not be looked at (e.g. tables while Postgres is stopped). */
  readonly unchecked: readonly string[];
}

export async function runDoctor(o: {
  readonly settings: Settings;
  readonly helperImage: string;
}): Promise<DoctorResult> {
  assertLocal(o.settings, "doctor");
  await assertEngine();
  const sets = o.settings.dataSets
    .map((d) => ({ d, svc: o.settings.services.find((s) => s.name === d.service) }))
    .filter((x): x is { d: DataSetSettings; svc: ServiceSettings } => x.svc !== undefined);
  const per = await inParallel(sets, 4, async ({ d, svc }) => {
    const found = await probeIfPresent(o.helperImage, mountOf(d));
    return judge({
      settings: o.settings,
      service: svc,
      dataSet: d,
      exists: found !== undefined,
      probe: found,
      container: await inspectContainer(svc.containerName),
    });
  });
  const findings = per.flat();
  const unchecked: string[] = [];
  try {
    const counted = await countStores(o.settings, o.helperImage);
    unchecked.push(...counted.unchecked);
    const reads = storesRead(storeServicesOf(o.settings));
    findings.push(
      ...counted.unreadable,
      ...judgeStores({
        stack: o.settings.stack,
        reads,
        found: counted.found,
        tablesChecked: !counted.unchecked.some((u) => u.startsWith("tables")),
      }),
    );
  } catch (e) {
    findings.push({
      dataSet: "stores",
      ok: false,
      message: `the stores could not be counted: ${(e as Error).message}`,
    });
  }
  return { findings, problems: findings.filter((f) => !f.ok).length, unchecked };
}
