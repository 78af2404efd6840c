import { killChildren } from "./docker";
import { BackupInvalidError } from "./manifest";
import { RefusedError, UsageError } from "./stack";
import { runUndo, whenInterruptible } from "./undo";

/*
 * Shared entry point of backup/restore/purge: exit codes, error messages and
 * signal handling.
 *   0 done   1 failed (state restored)   2 bad input   3 refused by a safety rule
 *   130/143 interrupted (state restored)
 */

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return 2;
  if (e instanceof RefusedError || e instanceof BackupInvalidError) return 3;
  return 1;
}

export function run(tool: string, fn: () => Promise<void>): void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    if (interrupted) return;
    interrupted = true;
    log(`${tool}: ${signal} received: stopping and putting things back`);
    whenInterruptible(() => {
      void killChildren()
        .then(() => runUndo(log))
        .finally(() => {
          log(`${tool}: interrupted; nothing was left half-done`);
          process.exit(code);
        });
    }, log);
  };
  process.on("SIGINT", () => onSignal("SIGINT", 130));
  process.on("SIGTERM", () => onSignal("SIGTERM", 143));

  fn().then(
    () => {
      if (!interrupted) process.exit(0);
    },
    async (e: unknown) => {
      if (interrupted) return;
      await runUndo(log);
      const kind =
        e instanceof UsageError
          ? "error"
          : e instanceof RefusedError || e instanceof BackupInvalidError
            ? "refused"
            : "failed";
      log(`${tool}: ${kind}: ${(e as Error).message ?? String(e)}`);
      process.exit(exitCodeOf(e));
    },
  );
}
