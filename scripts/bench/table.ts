/*
 * Plain-text tables for the benchmark's stdout: columns padded to the widest cell,
 * numbers right-aligned, so the output pastes into a README code block as is.
 */

export type Cell = string | number;

function fmt(c: Cell): string {
  return typeof c === "number" ? String(c) : c;
}

/** Renders `rows` under `header`; numeric columns (all cells numbers) are right-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  for (const r of rows) {
    if (r.length !== header.length) {
      throw new Error(`table row has ${r.length} cells, header has ${header.length}`);
    }
  }
  const numeric = header.map(
    (_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number"),
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

/** A ratio with one decimal, e.g. `4.2×`. */
export function times(r: number): string {
  return `${r.toFixed(1)}×`;
}
