import { isStatefulType } from "../../policy/stateful";
import { bindingVerdicts } from "./bindings";
import { StateExport } from "./parse";
import {
  CLASSIFICATION_LABEL,
  Classification,
  EngineError,
  InputError,
  parseUrn,
  PreviewInput,
  Report,
  StateFlags,
  StepRecord,
  Verdict,
} from "./types";

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

function classifySteps(steps: StepRecord[]): {
  classification: Classification;
  atRisk: boolean;
  detail: string;
} {
  const ops = steps.map((s) => s.op);
  const reasons = [...new Set(steps.flatMap((s) => s.replaceReasons))];
  const because =
    reasons.length > 0 ? ` because ${reasons.map((r) => `\`${r}\``).join(", ")} changed` : "";

  if (ops.some((op) => REPLACE_OPS.has(op))) {
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
  if (ops.includes("delete")) {
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

/**
 * The engine's refusal to touch a protected resource, e.g.
 * `unable to replace resource "urn:..."\nas it is currently marked for protection`.
 * Older engines stop planning at a protected replace and emit no step for it,
 * so this diagnostic is sometimes the only trace of the resource.
 */
const PROTECT_ERROR =
  /unable to (replace|delete) resource "(urn:pulumi:[^"]+)"[\s\S]*marked for protection/;

export function protectRefusal(e: EngineError): { urn: string; op: string } | undefined {
  const m = PROTECT_ERROR.exec(e.message);
  return m ? { urn: m[2], op: m[1] } : undefined;
}

export function validateAllow(allow: readonly string[]): void {
  for (const urn of allow) {
    if (parseUrn(urn) === undefined) {
      throw new InputError(
        `--allow ${JSON.stringify(urn)}: expected a full URN like urn:pulumi:dev::panopticon::docker:index/volume:Volume::postgres-data`,
      );
    }
  }
}

function finish(
  mode: Report["mode"],
  verdicts: Verdict[],
  allow: readonly string[],
  rest: Omit<Report, "mode" | "verdicts" | "notes">,
): Report {
  const notes: string[] = [];
  for (const urn of allow) {
    if (!verdicts.some((v) => v.urn === urn && v.atRisk)) {
      notes.push(`--allow ${urn} matched no resource at risk (check the URN)`);
    }
  }
  verdicts.sort((a, b) =>
    a.stack !== b.stack ? (a.stack < b.stack ? -1 : 1) : a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0,
  );
  return { mode, verdicts, notes, ...rest };
}

export function classifyPreview(input: PreviewInput, allow: readonly string[] = []): Report {
  const byUrn = new Map<string, StepRecord[]>();
  const stateless = new Map<string, StepRecord[]>();
  for (const s of input.steps) {
    const into = isStatefulType(s.type) ? byUrn : stateless;
    const list = into.get(s.urn) ?? [];
    list.push(s);
    into.set(s.urn, list);
  }
  const otherChanges: Record<string, Record<string, number>> = {};
  for (const [urn, steps] of stateless) {
    const type = steps[0].type;
    if (type === "pulumi:pulumi:Stack" || type.startsWith("pulumi:providers:")) continue;
    const c = classifySteps(steps).classification;
    if (c === "kept") continue;
    const counts = (otherChanges[parseUrn(urn)!.stack] ??= {});
    const key = c === "deleted-destroyed" ? "deleted" : CLASSIFICATION_LABEL[c];
    counts[key] = (counts[key] ?? 0) + 1;
  }
  const refused = new Map<string, string>();
  for (const e of input.errors) {
    const r = protectRefusal(e);
    if (r && parseUrn(r.urn)) refused.set(r.urn, r.op);
  }
  const verdicts: Verdict[] = [];
  for (const [urn, op] of refused) {
    const u = parseUrn(urn)!;
    if (byUrn.has(urn) || !isStatefulType(u.type)) continue;
    verdicts.push({
      stack: u.stack,
      urn,
      name: u.name,
      type: u.type,
      classification: "blocked-by-protect",
      atRisk: false,
      allowed: false,
      detail: `${op} refused by the engine: the resource is protected (the update fails until protect is lifted deliberately)`,
    });
  }
  for (const [urn, steps] of byUrn) {
    const u = parseUrn(urn)!;
    const classified = classifySteps(steps);
    const c =
      refused.has(urn) && classified.classification !== "blocked-by-protect"
        ? {
            classification: "blocked-by-protect" as const,
            atRisk: false,
            detail: `${refused.get(urn)} refused by the engine: the resource is protected`,
          }
        : classified;
    verdicts.push({
      stack: u.stack,
      urn,
      name: u.name,
      type: steps[0].type,
      ...c,
      allowed: c.atRisk && allow.includes(urn),
    });
  }
  // Data bindings and majors: a container, attachment or RDS change that keeps
  // every stateful resource but leaves the service without (readable) data.
  for (const e of bindingVerdicts(input.steps)) {
    const allowed = e.atRisk && allow.includes(e.urn);
    const i = verdicts.findIndex((v) => v.urn === e.urn);
    if (i < 0) {
      verdicts.push({ ...e, allowed });
    } else if (verdicts[i].atRisk && !e.atRisk) {
      verdicts[i] = { ...verdicts[i], detail: `${verdicts[i].detail}; ${e.detail}` };
    } else {
      const prev = verdicts[i];
      const also = prev.classification === "kept" ? "" : `; also ${prev.detail}`;
      verdicts[i] = { ...e, allowed, detail: `${e.detail}${also}` };
    }
  }
  // A refusal stops the update where it stands, so steps after it never run;
  // any other error leaves the plan unfinished and proves nothing.
  const incomplete = input.errors
    .filter((e) => protectRefusal(e) === undefined && !/^(preview|update) failed$/i.test(e.message))
    .map(
      (e) =>
        `the preview reported an error${e.urn ? ` on ${e.urn}` : ""}, so the plan may be incomplete: ${e.message}`,
    );
  const seen = new Set<string>();
  const dedup = incomplete.filter((m) => (seen.has(m) ? false : (seen.add(m), true)));
  return finish("preview", verdicts, allow, {
    incomplete: dedup,
    policyViolations: input.policyViolations,
    otherChanges,
    sources: input.sources,
  });
}

/** What `pulumi destroy` would do to each stateful resource in an export. */
export function classifyState(state: StateExport, allow: readonly string[] = []): Report {
  const verdicts: Verdict[] = [];
  for (const r of state.resources) {
    if (!r.custom || !isStatefulType(r.type)) continue;
    const u = parseUrn(r.urn)!;
    const pending =
      r.flags.delete === true ? " (an old copy pending deletion after a replace)" : "";
    let c: { classification: Classification; atRisk: boolean; detail: string };
    if (r.flags.external === true) {
      c = {
        classification: "kept",
        atRisk: false,
        detail: "read from outside the stack; destroy leaves it",
      };
    } else if (r.flags.protect === true) {
      c = {
        classification: "blocked-by-protect",
        atRisk: false,
        detail: "destroy fails on it until protect is lifted; `--exclude-protected` skips it",
      };
    } else if (r.flags.retainOnDelete === true) {
      c = {
        classification: "deleted-retained",
        atRisk: false,
        detail: "destroy removes it from the stack and keeps the real resource (retainOnDelete)",
      };
    } else {
      c = {
        classification: "deleted-destroyed",
        atRisk: true,
        detail: "destroy deletes it with its data: neither protect nor retainOnDelete is set",
      };
    }
    verdicts.push({
      stack: u.stack,
      urn: r.urn,
      name: u.name,
      type: r.type,
      ...c,
      detail: c.detail + pending,
      allowed: c.atRisk && allow.includes(r.urn),
    });
  }
  const incomplete =
    state.pendingOperations > 0
      ? [
          `the state has ${state.pendingOperations} pending operation(s) from an interrupted update: resources may exist that the state does not list`,
        ]
      : [];
  return finish("state", verdicts, allow, {
    incomplete,
    policyViolations: [],
    otherChanges: {},
    sources: [state.source],
  });
}
