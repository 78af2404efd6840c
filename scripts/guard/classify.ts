import { isStatefulType } from "../../policy/stateful";
import { bindingVerdicts } from "./bindings";
import { StateExport } from "./parse";
import { classifySteps } from "./steps";
import {
  CLASSIFICATION_LABEL,
  Classification,
  EngineError,
  InputError,
  parseUrn,
  PreviewInput,
  Report,
  StepRecord,
  Verdict,
} from "./types";

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

/** What a preview does to each stateful resource, and to each data binding. */
export function classifyPreview(input: PreviewInput, allow: readonly string[] = []): Report {
  const { byUrn, stateless } = groupSteps(input.steps);
  const refused = new Map<string, string>();
  for (const e of input.errors) {
    const r = protectRefusal(e);
    if (r && parseUrn(r.urn)) refused.set(r.urn, r.op);
  }
  const verdicts = [...refusedVerdicts(refused, byUrn), ...stepVerdicts(byUrn, refused, allow)];
  mergeBindings(verdicts, input.steps, allow);
  return finish("preview", verdicts, allow, {
    incomplete: incompleteOf(input.errors),
    policyViolations: input.policyViolations,
    otherChanges: otherChangesOf(stateless),
    sources: input.sources,
  });
}

/** The steps per URN, stateful resources apart from the rest. */
function groupSteps(steps: readonly StepRecord[]) {
  const byUrn = new Map<string, StepRecord[]>();
  const stateless = new Map<string, StepRecord[]>();
  for (const s of steps) {
    const into = isStatefulType(s.type) ? byUrn : stateless;
    const list = into.get(s.urn) ?? [];
    list.push(s);
    into.set(s.urn, list);
  }
  return { byUrn, stateless };
}

/** The other resources' changes, counted per stack and kind of change. */
function otherChangesOf(stateless: ReadonlyMap<string, StepRecord[]>): Report["otherChanges"] {
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
  return otherChanges;
}

/** Stateful resources the engine refused to touch and emitted no step for. */
function refusedVerdicts(
  refused: ReadonlyMap<string, string>,
  byUrn: ReadonlyMap<string, StepRecord[]>,
): Verdict[] {
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
  return verdicts;
}

/** Each stateful resource's steps classified; an engine refusal overrides them. */
function stepVerdicts(
  byUrn: ReadonlyMap<string, StepRecord[]>,
  refused: ReadonlyMap<string, string>,
  allow: readonly string[],
): Verdict[] {
  const verdicts: Verdict[] = [];
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
  return verdicts;
}

/**
 * Data bindings and majors: a container, attachment or RDS change that keeps every
 * stateful resource but leaves the service without (readable) data. Merged into
 * `verdicts` in place: an at-risk finding leads, a safe one is appended.
 */
function mergeBindings(
  verdicts: Verdict[],
  steps: readonly StepRecord[],
  allow: readonly string[],
): void {
  for (const e of bindingVerdicts(steps)) {
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
}

/**
 * A refusal stops the update where it stands, so steps after it never run; any
 * other error leaves the plan unfinished and proves nothing. Each message once.
 */
function incompleteOf(errors: readonly EngineError[]): string[] {
  const incomplete = errors
    .filter((e) => protectRefusal(e) === undefined && !/^(preview|update) failed$/i.test(e.message))
    .map(
      (e) =>
        `the preview reported an error${e.urn ? ` on ${e.urn}` : ""}, so the plan may be incomplete: ${e.message}`,
    );
  return [...new Set(incomplete)];
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
