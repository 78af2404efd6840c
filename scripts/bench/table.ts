/*
 * Plain-text tables for the benchmark's stdout: columns padded to the widest cell,
 * numbers right-aligned, so the output pastes into a README code block as is.
 */

export type Cell = string | number;

function fmt(c: Cell): string {
  return typeof c === "number" ? String(c) : c;
}

/** Cells that stand in for a missing number and keep a numeric column right-aligned. */
const PLACEHOLDER = /^(-|FAILED)$/;

/**
 * Renders `rows` under `header`; numeric columns (every cell a number or a
 * placeholder such as "-") are right-aligned, header included.
 */
export function renderTable(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  for (const r of rows) {
    if (r.length !== header.length) {
      throw new Error(`table row has ${r.length} cells, header has ${header.length}`);
    }
  }
  const numeric = header.map(
    (_, i) =>
      rows.some((r) => typeof r[i] === "number") &&
      rows.every((r) => typeof r[i] === "number" || PLACEHOLDER.test(String(r[i]))),
  );
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => fmt(r[i]).length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(width[i]) : c.padEnd(width[i])))
      .join("  ")
      .trimEnd();
  return [
    line(header),
    line(width.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(r.map(fmt))),
  ].join("\n");
}

/** Milliseconds, rounded to whole ms. */
export function ms(v: number): number {
  return Math.round(v);
}

/** KiB → MiB with one decimal. */
export function mib(kib: number): number {
  return Math.round(kib / 102.4) / 10;
}

/** A ratio with two decimals, e.g. `4.27×` (one decimal would show 2.96 as 3.0). */
export function times(r: number): string {
  return `${r.toFixed(2)}×`;
}
