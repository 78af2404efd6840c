import { Classification, StateFlags, StepRecord } from "./types";

/*
 * Classification of what a preview (or a destroy) does to each stateful
 * resource. The rules, in order:
 *
 * 1. Any replacement step (replace, create-replacement, delete-replaced, ...)
 *    means "replaced": the resource the service uses afterwards starts without
 *    its data, even when the old copy is retained. Blocked if the OLD state is
 *    protected (the engine refuses to replace it).
 * 2. A delete: blocked if the old state is protected; retained only when a
 *    source says `retainOnDelete: true`; otherwise destroyed. A missing old
 *    state is "unknown" and counts as at risk.
 * 3. Steps that only touch the state (discard) leave the resource alone.
 * 4. update = in place; create/import = new or adopted; same/read/refresh = kept.
 * 5. An operation the guard does not know is at risk.
 */

const REPLACE_OPS = new Set([
  "replace",
  "create-replacement",
  "delete-replaced",
  "import-replacement",
  "read-replacement",
  "discard-replaced",
]);
const KEPT_OPS = new Set(["same", "read", "refresh", "remove-pending-replace"]);

/** Combines what several sources say about one state: any `true` wins (sources omit false). */
function mergeFlags(states: Array<StateFlags | undefined>): StateFlags | undefined {
  const present = states.filter((s): s is StateFlags => s !== undefined);
  if (present.length === 0) return undefined;
  const any = (k: "protect" | "retainOnDelete" | "external" | "delete") =>
    present.some((s) => s[k] === true)
      ? true
      : present.some((s) => s[k] === false)
        ? false
        : undefined;
  return {
    type: present.find((s) => s.type)?.type,
    id: present.find((s) => s.id)?.id,
    protect: any("protect"),
    retainOnDelete: any("retainOnDelete"),
    external: any("external"),
    delete: any("delete"),
  };
}

function oldOf(steps: StepRecord[], ops: string[]): StateFlags | undefined {
  return mergeFlags(steps.filter((s) => ops.includes(s.op)).map((s) => s.old));
}

/** A resource's classification, whether it puts data at risk, and why. */
export interface Outcome {
  readonly classification: Classification;
  readonly atRisk: boolean;
  readonly detail: string;
}

/** What the steps of one resource do to it (the rules above, in order). */
export function classifySteps(steps: StepRecord[]): Outcome {
  const ops = steps.map((s) => s.op);
  const reasons = [...new Set(steps.flatMap((s) => s.replaceReasons))];
  const because =
    reasons.length > 0 ? ` because ${reasons.map((r) => `\`${r}\``).join(", ")} changed` : "";
  if (ops.some((op) => REPLACE_OPS.has(op))) return classifyReplace(steps, because);
  if (ops.includes("delete")) return classifyDelete(steps);
  if (ops.includes("discard")) {
    return {
      classification: "deleted-retained",
      atRisk: false,
      detail: "removed from the state only (discard); the real resource is left alone",
    };
  }
  if (ops.includes("update")) {
    return { classification: "updated", atRisk: false, detail: "updated in place; data kept" };
  }
  if (ops.includes("import")) {
    return {
      classification: "created",
      atRisk: false,
      detail: "imported: an existing resource is adopted",
    };
  }
  if (ops.includes("create")) {
    return { classification: "created", atRisk: false, detail: "new resource" };
  }
  const unknown = ops.filter((op) => !KEPT_OPS.has(op));
  if (unknown.length > 0) {
    return {
      classification: "unknown",
      atRisk: true,
      detail: `unknown operation ${unknown.map((o) => `"${o}"`).join(", ")}: treated as at risk`,
    };
  }
  return { classification: "kept", atRisk: false, detail: "no change" };
}

/** Rule 1: a replacement, blocked while protected, else at risk whatever happens to the old copy. */
function classifyReplace(steps: StepRecord[], because: string): Outcome {
  const ops = steps.map((s) => s.op);
  // The engine refuses a replace only while the resource is protected in the
  // state AND in the program: removing protect in the same change lets it through.
  const old = oldOf(steps, ["delete-replaced", "replace", "discard-replaced"]);
  const neu = mergeFlags(
    steps.filter((s) => s.op === "replace" || s.op === "create-replacement").map((s) => s.new),
  );
  if (old?.protect === true && (neu === undefined || neu.protect === true)) {
    return {
      classification: "blocked-by-protect",
      atRisk: false,
      detail: `replacement${because} refused: the resource is protected (the update fails until protect is lifted deliberately)`,
    };
  }
  const deleteFirst =
    ops.indexOf("delete-replaced") >= 0 &&
    ops.indexOf("create-replacement") >= 0 &&
    ops.indexOf("delete-replaced") < ops.indexOf("create-replacement");
  const fate = ops.includes("discard-replaced")
    ? "the old copy is only removed from the state"
    : old?.retainOnDelete === true
      ? "the old copy is retained (retainOnDelete) but the new one starts empty"
      : "the old copy is deleted";
  return {
    classification: "replaced",
    atRisk: true,
    detail: `replaced${because}; ${fate}${deleteFirst ? "; deleted before the replacement exists" : ""}`,
  };
}

/** Rule 2: a delete is blocked by protect, kept by retainOnDelete, else destroys the data. */
function classifyDelete(steps: StepRecord[]): Outcome {
  const old = oldOf(steps, ["delete"]);
  if (old === undefined) {
    return {
      classification: "unknown",
      atRisk: true,
      detail: "deleted, but the input has no old state: cannot tell whether it is retained",
    };
  }
  if (old.protect === true) {
    return {
      classification: "blocked-by-protect",
      atRisk: false,
      detail: "delete refused: the resource is protected",
    };
  }
  if (old.retainOnDelete === true) {
    return {
      classification: "deleted-retained",
      atRisk: false,
      detail: "removed from the stack; retainOnDelete keeps the real resource and its data",
    };
  }
  return {
    classification: "deleted-destroyed",
    atRisk: true,
    detail:
      "deleted and its data destroyed: no retainOnDelete in the current state " +
      "(with a preview JSON from an older CLI, pass the --event-log file too)",
  };
}
