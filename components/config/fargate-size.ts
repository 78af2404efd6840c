/*
 * Fargate accepts only fixed task sizes: a CPU value and, per CPU value, a memory range.
 * Compose's limits (0.5 CPU / 512 MiB) are not one of them, so the task gets the
 * smallest valid size that holds the limits, and the container keeps compose's limits
 * as its own hard limits.
 */

/** CPU units (1024 = one vCPU) → allowed task memory in MiB: [min, max, step]. */
const SIZES: ReadonlyArray<readonly [number, number, number, number]> = [
  [256, 512, 2048, 512],
  [512, 1024, 4096, 1024],
  [1024, 2048, 8192, 1024],
  [2048, 4096, 16384, 1024],
  [4096, 8192, 30720, 1024],
  [8192, 16384, 61440, 4096],
  [16384, 32768, 122880, 8192],
];

export interface FargateSize {
  /** Task CPU units (a Fargate size). */
  readonly taskCpu: number;
  /** Task memory in MiB (valid for taskCpu). */
  readonly taskMemory: number;
  /** The container's own CPU units: the configured limit. */
  readonly cpu: number;
  /** The container's hard memory limit in MiB: the configured limit. */
  readonly memoryMb: number;
}

/** The smallest Fargate task size that holds `cpus` vCPUs and `memoryMb` MiB. */
export function fargateSize(cpus: number, memoryMb: number): FargateSize {
  if (!(cpus > 0) || !(memoryMb > 0)) {
    throw new Error(`expected positive limits, got cpus=${cpus} memoryMb=${memoryMb}`);
  }
  const cpu = Math.ceil(cpus * 1024);
  for (const [units, min, max, step] of SIZES) {
    if (units < cpu || memoryMb > max) continue;
    const memory = memoryMb <= min ? min : min + Math.ceil((memoryMb - min) / step) * step;
    return { taskCpu: units, taskMemory: memory, cpu, memoryMb };
  }
  throw new Error(
    `no Fargate size holds ${cpus} vCPU and ${memoryMb} MiB (at most 16 vCPU, 120 GiB)`,
  );
}
