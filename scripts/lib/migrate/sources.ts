import * as fs from "fs";
import * as path from "path";
import { DataSetSettings, Settings } from "../../../components/config/settings";
import { MIGRATIONS, StoreService } from "../../../components/stores";
import { DataMount, docker, DockerError, helperRunArgs, volumeExists } from "../docker";
import { describeMount } from "../stack";
import { Collection, listCollections, openChroma } from "./chroma";
import { psql, PgContainer, PgTarget } from "./pg";
import { SOURCE_TABLES, SourceTable, TargetTable } from "./targets";

/*
 * What a stack holds that 0.1 does not read: the compose-era tables in its Postgres
 * and the ChromaDB collections in its data sets. ChromaDB files are copied out
 * through a read-only helper container (volume and bind mode alike, remote engines
 * too) and only the copy is opened. On an AWS Docker host an ebs data set is a host
 * directory and an efs one a Docker volume (NFS), both on the host's engine: the
 * same helper reads them there.
 */

/** The stack's services in the shape components/stores.ts reads. */
export function storeServicesOf(settings: Settings): StoreService[] {
  return settings.services.map((s) => ({
    name: s.name,
    env: s.env,
    database: s.database,
    data: s.dataSet ? { set: s.dataSet.key, path: s.dataSet.mountPath } : undefined,
  }));
}

export function pgTargetOf(settings: Settings): PgContainer | undefined {
  const svc = settings.services.find((s) => s.kind === "postgres");
  return svc && { container: svc.containerName, ...settings.postgres };
}

const CHROMA_FILES = ["chroma.sqlite3", "chroma.sqlite3-wal"];

/**
 * Copies a data set's chroma.sqlite3 (and its -wal) into `dir`; the copy's path, or
 * undefined when the data set does not exist or holds no chroma.sqlite3 at its root.
 */
export async function copyChroma(
  settings: Settings,
  dataSet: string,
  helperImage: string,
  dir: string,
): Promise<string | undefined> {
  const d = settings.dataSets.find((x) => x.key === dataSet);
  if (d === undefined) return undefined;
  const m = dataMountOf(d);
  if (m.type === "volume" && !(await volumeExists(m.source))) return undefined;
  // An ebs directory is on the Docker host, not here: the engine says whether it exists.
  if (m.type === "bind" && d.backend === "bind" && !fs.existsSync(m.source)) return undefined;
  const run = (command: string[]) =>
    helperRunArgs({ image: helperImage, mount: m, readOnly: true, purpose: "migrate", command });
  const ls = await docker(run(["ls", "-A", "/data"]), { allowFail: true });
  if (ls.code !== 0 && m.type === "bind" && /bind source path does not exist/.test(ls.stderr)) {
    return undefined;
  }
  if (ls.code !== 0) throw new DockerError(run(["ls"]), ls.code, ls.stderr);
  const present = ls.stdout.split("\n").filter((f) => CHROMA_FILES.includes(f));
  if (!present.includes("chroma.sqlite3")) return undefined;
  const into = path.join(dir, dataSet);
  fs.mkdirSync(into, { recursive: true });
  for (const f of present) {
    await docker(run(["cat", `/data/${f}`]), { output: fs.createWriteStream(path.join(into, f)) });
  }
  return path.join(into, "chroma.sqlite3");
}

/**
 * Where a data set lives on the engine: volume and efs data sets are Docker volumes
 * (efs: the local driver over NFS), bind and ebs ones host directories.
 */
export function dataMountOf(d: DataSetSettings): DataMount {
  return d.backend === "volume" || d.backend === "efs"
    ? { type: "volume", source: d.volumeName }
    : { type: "bind", source: d.hostPath };
}

export interface ChromaStore {
  readonly dataSet: string;
  readonly where: string;
  readonly file: string;
  readonly collection: Collection;
}

/** The collections in every data set but Postgres's that holds a chroma.sqlite3. */
export async function chromaStores(
  settings: Settings,
  helperImage: string,
  dir: string,
): Promise<ChromaStore[]> {
  const out: ChromaStore[] = [];
  for (const d of settings.dataSets) {
    if (d.service === settings.postgres.service) continue;
    const file = await copyChroma(settings, d.key, helperImage, dir);
    if (file === undefined) continue;
    const db = openChroma(file);
    try {
      for (const c of listCollections(db)) {
        out.push({ dataSet: d.key, where: describeMount(dataMountOf(d)), file, collection: c });
      }
    } finally {
      db.close();
    }
  }
  return out;
}

/** The 0.1 table a collection moves to, by name. */
export function collectionTarget(name: string): TargetTable | undefined {
  return MIGRATIONS.find((m) => m.from.kind === "collection" && m.from.name === name)?.to;
}

/** Which of the compose-era tables exist in the database. */
export async function sourceTables(pg: PgTarget): Promise<SourceTable[]> {
  const names = Object.keys(SOURCE_TABLES).map((n) => `'${n}'`);
  const rows = await psql(
    pg,
    [
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ` +
        `WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname IN (${names.join(", ")}) ORDER BY 1`,
    ],
    { transaction: false },
  );
  return rows as SourceTable[];
}
