import * as fc from "fast-check";
import { closest, didYouMean, editDistance } from "../components/config/suggest";

describe("did you mean", () => {
  it("edit distance: classic cases", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("judge", "judge")).toBe(0);
  });

  it("edit distance is a metric on strings: zero only for equal strings, symmetric", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        const d = editDistance(a, b);
        expect(d === 0).toBe(a === b);
        expect(editDistance(b, a)).toBe(d);
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
      }),
    );
  });

  it("suggests a slip, never a different word", () => {
    expect(closest("judge-servce", ["judge-service", "main-app"])).toBe("judge-service");
    expect(closest("storagemode", ["storageMode", "dataDir"])).toBe("storageMode");
    expect(didYouMean("judg", ["judge", "query"])).toBe('; did you mean "judge"?');
    // Too far from every candidate: no suggestion at all.
    expect(closest("redis", ["judge", "query", "postgres"])).toBeUndefined();
    expect(didYouMean("xyz", ["judge"])).toBe("");
  });
});
