import { randomUUID } from "crypto";
import { FixtureDoc, randomVector } from "../../scripts/bench/chroma-fixture";

/*
 * ChromaDB documents as the compose-era services stored them: query-storage's
 * `theme` + `timestamp`, evaluation-storage's `metric_type`, the judge's `model_id`,
 * `theme`, `query` and `provider` (query_storage.py, judge_storage.py at e342b64).
 * Timestamps are datetime.isoformat() text with microseconds.
 */

export type Kind = "queries" | "evaluation_metrics" | "llm_outputs";

export function docs(kind: Kind, n: number): FixtureDoc[] {
  return Array.from({ length: n }, (_, i) => {
    const ts = `2025-03-0${1 + (i % 9)}T10:11:12.${100001 + 2 * (i % 400000)}`;
    const metadata: Record<string, string | number | boolean> =
      kind === "queries"
        ? { theme: `theme${i % 2}`, timestamp: ts, n: i }
        : kind === "evaluation_metrics"
          ? { metric_type: `metric${i % 2}`, timestamp: ts, weight: 0.5 }
          : {
              model_id: "gpt-4",
              theme: "t",
              query: `q${i}`,
              timestamp: ts,
              provider: "openai",
              ok: true,
            };
    return { id: randomUUID(), text: `${kind} document ${i}`, metadata, vector: randomVector() };
  });
}
