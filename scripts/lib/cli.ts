import { killChildren } from "./docker";
import { EnvironmentError, EXIT, EXIT_SIGNAL, RefusedError, UsageError } from "./exit-codes";
import { BackupInvalidError } from "./manifest";
import { runUndo, whenInterruptible } from "./undo";

/*
 * Shared entry point of the data tools (backup, restore, purge, status, doctor,
 * pg-upgrade, backup:before-change): exit codes (scripts/lib/exit-codes.ts), error
 * messages and signal handling.
 *   0 done   1 failed or refused (state restored)   2 bad input   3 environment missing
 *   130/143 interrupted (state restored)
 */

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof EnvironmentError) return EXIT.environment;
  return EXIT.problem;
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
  process.on("SIGINT", () => onSignal("SIGINT", EXIT_SIGNAL.SIGINT));
  process.on("SIGTERM", () => onSignal("SIGTERM", EXIT_SIGNAL.SIGTERM));

  fn().then(
    () => {
      if (!interrupted) process.exit(EXIT.ok);
    },
    async (e: unknown) => {
      if (interrupted) return;
      await runUndo(log);
      const kind =
        e instanceof UsageError
          ? "error"
          : e instanceof RefusedError || e instanceof BackupInvalidError
            ? "refused"
            : e instanceof EnvironmentError
              ? "missing"
              : "failed";
      log(`${tool}: ${kind}: ${(e as Error).message ?? String(e)}`);
      process.exit(exitCodeOf(e));
    },
  );
}
