/*
 * Small, pure statistics for the benchmark: medians of repeated runs and a
 * least-squares line through (services, registration time) to judge whether
 * registration grows linearly with the number of services.
 */

/** The median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of an empty list");
  if (values.some((v) => !Number.isFinite(v))) {
    throw new Error(`median: expected finite numbers, got ${JSON.stringify(values)}`);
  }
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface LinearFit {
  /** Cost of one more service (y units per x unit). */
  readonly slope: number;
  /** Fixed cost at x = 0. */
  readonly intercept: number;
  /** Coefficient of determination: 1 is a perfect line; 1 also when y is constant. */
  readonly r2: number;
}

/** Ordinary least squares y = intercept + slope·x; needs at least two distinct x. */
export function linearFit(xs: readonly number[], ys: readonly number[]): LinearFit {
  if (xs.length !== ys.length) {
    throw new Error(`linearFit: ${xs.length} x values but ${ys.length} y values`);
  }
  const n = xs.length;
  if (n < 2 || new Set(xs).size < 2) {
    throw new Error("linearFit: expected at least two different x values");
  }
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let ssRes = 0;
  for (let i = 0; i < n; i++) ssRes += (ys[i] - (intercept + slope * xs[i])) ** 2;
  const r2 = syy === 0 ? 1 : 1 - ssRes / syy;
  return { slope, intercept, r2 };
}

/** Cost of each added service between consecutive points (x sorted ascending). */
export function marginalCosts(xs: readonly number[], ys: readonly number[]): number[] {
  const pts = xs.map((x, i) => [x, ys[i]] as const).sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (let i = 1; i < pts.length; i++) {
    out.push((pts[i][1] - pts[i - 1][1]) / (pts[i][0] - pts[i - 1][0]));
  }
  return out;
}

export interface Linearity {
  readonly fit: LinearFit;
  /** Per-service cost between consecutive sizes, smallest sizes first. */
  readonly marginal: number[];
  /** Last marginal cost over the first: about 1 for linear growth, growing with N for superlinear. */
  readonly growth: number;
  readonly linear: boolean;
  /** Why the verdict is what it is, in one line. */
  readonly reason: string;
}

/**
 * Linear when the line explains the points (R² ≥ minR2) and the cost of one more
 * service at the largest sizes is at most `maxGrowth` times the cost at the
 * smallest sizes. Quadratic growth (an O(N) step per service) fails the second
 * test long before R² drops: with 5, 50, 200 services its marginal cost grows ~5×.
 */
export function linearity(
  xs: readonly number[],
  ys: readonly number[],
  opts: { minR2?: number; maxGrowth?: number } = {},
): Linearity {
  const minR2 = opts.minR2 ?? 0.98;
  const maxGrowth = opts.maxGrowth ?? 2;
  const fit = linearFit(xs, ys);
  const marginal = marginalCosts(xs, ys);
  const first = marginal[0];
  const last = marginal[marginal.length - 1];
  const growth = first > 0 ? last / first : last > 0 ? Infinity : 1;
  const reasons: string[] = [];
  if (fit.r2 < minR2) reasons.push(`R² ${fit.r2.toFixed(3)} < ${minR2}`);
  if (marginal.length >= 2 && growth > maxGrowth) {
    reasons.push(`cost per added service grew ${growth.toFixed(1)}× (> ${maxGrowth}×)`);
  }
  const linear = reasons.length === 0;
  return {
    fit,
    marginal,
    growth,
    linear,
    reason: linear
      ? `R² ${fit.r2.toFixed(3)} ≥ ${minR2}` +
        (marginal.length >= 2 ? `, cost per added service ×${growth.toFixed(2)}` : "")
      : reasons.join("; "),
  };
}
