import { ContainerInfo, startContainer, stopContainer } from "./docker";
import { pushUndo } from "./undo";

/**
 * Runs `fn` with the given containers stopped gracefully (their stop signal, then
 * SIGKILL after `timeoutSeconds`), and starts again those that were running,
 * whether `fn` succeeds, fails or the process is interrupted.
 */
export async function withStopped<T>(
  containers: readonly ContainerInfo[],
  timeoutSeconds: number,
  log: (line: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const running = containers.filter((c) => c.running);
  const stopped: string[] = [];
  const restartAll = async (): Promise<string[]> => {
    const failures: string[] = [];
    for (const name of stopped.splice(0)) {
      try {
        await startContainer(name);
        log(`  started ${name} again`);
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
      }
    }
    return failures;
  };
  const done = pushUndo(`start ${running.map((c) => c.name).join(", ")} again`, async () => {
    const failures = await restartAll();
    if (failures.length > 0) throw new Error(failures.join("; "));
  });
  let result: T;
  try {
    for (const c of running) {
      const t0 = Date.now();
      log(`  stopping ${c.name} (graceful, up to ${timeoutSeconds} s)`);
      // Recorded before the call: a stop that times out half-way must still be undone.
      stopped.push(c.name);
      await stopContainer(c.name, timeoutSeconds);
      log(`  ${c.name} stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    result = await fn();
  } catch (e) {
    done();
    const failures = await restartAll();
    if (failures.length > 0) {
      (e as Error).message += `; ALSO could not start again: ${failures.join("; ")}`;
    }
    throw e;
  }
  done();
  const failures = await restartAll();
  if (failures.length > 0) {
    throw new Error(
      `the work succeeded but these containers did not start again: ${failures.join("; ")}`,
    );
  }
  return result;
}
