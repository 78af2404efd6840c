/*
 * A small worker pool: data sets are archived side by side, at most `jobs` at once.
 */

/** Archives written at once: the disk, not one stream, sets the pace; 2 keeps a small machine responsive. */
export const DEFAULT_JOBS = 2;

/** Runs `fn` over `items`, at most `jobs` at a time; waits for all, then throws the first failure. */
export async function inParallel<T, R>(
  items: readonly T[],
  jobs: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]).then(
        (value) => ({ status: "fulfilled", value }) as const,
        (reason: unknown) => ({ status: "rejected", reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<R>).value);
}
