import { Settings } from "../../../components/config/settings";
import { runBackup } from "../backup-core";
import { docker, startContainer, stopContainer } from "../docker";
import { pushUndo } from "../undo";
import { isDamaged, PgContainer } from "./pg";

/*
 * The backup a migration starts with, taken by the backup tool's own core: no
 * backup, no migration. By default Postgres keeps running and is dumped (pg_dump).
 * pg_dump cannot read a damaged table, so `raw` stops Postgres instead, lets the
 * backup archive its data directory file by file (what is there is kept, a missing
 * relation file stays missing), and starts it again.
 */

export async function backupFirst(o: {
  readonly settings: Settings;
  readonly pg: PgContainer;
  readonly outDir: string;
  readonly helperImage: string;
  readonly raw: boolean;
  readonly log: (line: string) => void;
}): Promise<void> {
  const restart = o.raw ? await stopPostgres(o) : undefined;
  try {
    await runBackup({
      settings: o.settings,
      outDir: o.outDir,
      helperImage: o.helperImage,
      stopWriters: false,
      stopTimeout: o.settings.stopGraceSeconds,
      log: o.log,
    });
  } catch (e) {
    const m = (e as Error).message;
    const hint =
      !o.raw && isDamaged(m)
        ? " (pg_dump cannot read a damaged table: --backup-raw stops Postgres and archives its data directory's files instead)"
        : "";
    throw new Error(`the backup failed, so nothing was migrated: ${m}${hint}`);
  } finally {
    if (restart) await restart();
  }
}

async function stopPostgres(o: {
  readonly settings: Settings;
  readonly pg: PgContainer;
  readonly log: (line: string) => void;
}): Promise<() => Promise<void>> {
  const name = o.pg.container;
  o.log(
    `migrate-data: stopping ${name} (graceful, ${o.settings.stopGraceSeconds} s) for a raw backup`,
  );
  const start = async () => {
    await startContainer(name);
    await waitAccepting(o.pg);
    o.log(`migrate-data: ${name} is running again`);
  };
  const drop = pushUndo(`start ${name} again`, start);
  await stopContainer(name, o.settings.stopGraceSeconds);
  return async () => {
    drop();
    await start();
  };
}

async function waitAccepting(pg: PgContainer): Promise<void> {
  for (let i = 0; i < 240; i++) {
    const r = await docker(
      ["exec", pg.container, "psql", "-X", "-U", pg.user, "-d", pg.database, "-tAc", "SELECT 1"],
      { allowFail: true },
    );
    if (r.code === 0 && r.stdout.trim() === "1") return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`${pg.container} did not accept connections again within 120 s`);
}
