import {
  EngineError,
  InputError,
  parseUrn,
  PolicyViolation,
  PreviewInput,
  StateFlags,
  StepRecord,
} from "./types";

/*
 * Readers for Pulumi's own formats:
 *
 * - `pulumi preview --json`: a PreviewDigest (pkg/display/json.go) with `steps`
 *   of {op, urn, provider, oldState, newState, diffReasons, replaceReasons,
 *   detailedDiff}; states are apitype.ResourceV3, where `protect` and
 *   `retainOnDelete` are omitted when false. Older CLIs leave retainOnDelete out
 *   of the preview JSON altogether, which is why the event log is read too.
 * - `pulumi preview --event-log FILE`: one apitype.EngineEvent per line; steps
 *   are `resourcePreEvent.metadata` {op, urn, type, old, new, keys, diffs,
 *   detailedDiff} whose old/new are StepEventStateMetadata (protect,
 *   retainOnDelete, inputs, outputs, ...).
 * - `pulumi stack export`: {version, deployment: {manifest, resources: [...]}}.
 *
 * Unknown or missing fields never make a resource look safer: a missing
 * `retainOnDelete` reads as "not retained", a missing old state as "unknown".
 */

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const show = (v: unknown): string => {
  if (v === undefined) return "(missing)";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function flagsOf(state: unknown, where: string): StateFlags | undefined {
  if (state === undefined || state === null) return undefined;
  if (!isObject(state)) throw new InputError(`${where} = ${show(state)}: expected an object`);
  const bool = (key: string): boolean | undefined => {
    const v = state[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") {
      throw new InputError(`${where}.${key} = ${show(v)}: expected true or false`);
    }
    return v;
  };
  return {
    type: typeof state.type === "string" ? state.type : undefined,
    id: typeof state.id === "string" ? state.id : undefined,
    protect: bool("protect"),
    retainOnDelete: bool("retainOnDelete"),
    external: bool("external"),
    delete: bool("delete"),
    inputs: isObject(state.inputs)
      ? state.inputs
      : isObject(state.outputs)
        ? state.outputs
        : undefined,
    outputs: isObject(state.outputs) ? state.outputs : undefined,
  };
}

function stringList(v: unknown, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw new InputError(`${where} = ${show(v)}: expected a list of property names`);
  }
  return v as string[];
}

function step(
  op: unknown,
  urn: unknown,
  type: unknown,
  oldState: unknown,
  newState: unknown,
  keys: unknown,
  where: string,
  source: string,
): StepRecord {
  if (typeof op !== "string" || op === "") {
    throw new InputError(
      `${where}.op = ${show(op)}: expected a step operation such as "same" or "delete"`,
    );
  }
  if (typeof urn !== "string" || parseUrn(urn) === undefined) {
    throw new InputError(
      `${where}.urn = ${show(urn)}: expected a URN like urn:pulumi:<stack>::<project>::<type>::<name>`,
    );
  }
  const old = flagsOf(oldState, `${where}.old`);
  const neu = flagsOf(newState, `${where}.new`);
  const t =
    typeof type === "string" && type !== ""
      ? type
      : (neu?.type ?? old?.type ?? parseUrn(urn)!.type);
  return {
    op,
    urn,
    type: t,
    old,
    new: neu,
    replaceReasons: stringList(keys, `${where}.keys`),
    source,
  };
}

const PREVIEW_KEYS = [
  "steps",
  "config",
  "diagnostics",
  "duration",
  "changeSummary",
  "maybeCorrupt",
];

export function parsePreviewJson(doc: Json, source: string): PreviewInput {
  if (!PREVIEW_KEYS.some((k) => k in doc) && Object.keys(doc).length > 0) {
    throw new InputError(
      `${source}: a JSON object without any of ${PREVIEW_KEYS.join(", ")}: expected the output of \`pulumi preview --json\``,
    );
  }
  const steps = doc.steps ?? [];
  if (!Array.isArray(steps))
    throw new InputError(`${source}: steps = ${show(steps)}: expected a list`);
  const records = steps.map((s, i) => {
    const where = `${source}: steps[${i}]`;
    if (!isObject(s)) throw new InputError(`${where} = ${show(s)}: expected an object`);
    return step(s.op, s.urn, undefined, s.oldState, s.newState, s.replaceReasons, where, source);
  });
  const diagnostics = doc.diagnostics ?? [];
  if (!Array.isArray(diagnostics)) {
    throw new InputError(`${source}: diagnostics = ${show(diagnostics)}: expected a list`);
  }
  const errors: EngineError[] = diagnostics
    .filter((d): d is Json => isObject(d) && d.severity === "error")
    .map((d) => ({
      urn: typeof d.urn === "string" ? d.urn : undefined,
      message: String(d.message ?? "").trim(),
    }));
  return { steps: records, errors, policyViolations: [], sources: [source] };
}

export function parseEventLog(events: Json[], source: string, lines: number[]): PreviewInput {
  const steps: StepRecord[] = [];
  const errors: EngineError[] = [];
  const policyViolations: PolicyViolation[] = [];
  events.forEach((e, i) => {
    const where = `${source}: line ${lines[i]}`;
    const pre = e.resourcePreEvent;
    if (pre !== undefined) {
      if (!isObject(pre) || !isObject(pre.metadata)) {
        throw new InputError(
          `${where}: resourcePreEvent.metadata = ${show(isObject(pre) ? pre.metadata : pre)}: expected an object`,
        );
      }
      const m = pre.metadata;
      steps.push(
        step(
          m.op,
          m.urn,
          m.type,
          m.old,
          m.new,
          m.keys,
          `${where}: resourcePreEvent.metadata`,
          source,
        ),
      );
    }
    const d = e.diagnosticEvent;
    if (isObject(d) && d.severity === "error") {
      errors.push({
        urn: typeof d.urn === "string" && d.urn !== "" ? d.urn : undefined,
        message: `${d.prefix ?? ""}${d.message ?? ""}`.replace(/^error: /, "").trim(),
      });
    }
    const p = e.policyEvent;
    if (isObject(p)) {
      policyViolations.push({
        urn: typeof p.resourceUrn === "string" && p.resourceUrn !== "" ? p.resourceUrn : undefined,
        policy: `${p.policyPackName ?? "?"}/${p.policyName ?? "?"}`,
        level: String(p.enforcementLevel ?? "?"),
        message: String(p.message ?? "").trim(),
      });
    }
  });
  return { steps, errors, policyViolations, sources: [source] };
}

const EVENT_KEYS = [
  "cancelEvent",
  "stdoutEvent",
  "diagnosticEvent",
  "preludeEvent",
  "summaryEvent",
  "resourcePreEvent",
  "resOutputsEvent",
  "resOpFailedEvent",
  "policyEvent",
];

const isEngineEvent = (v: unknown): v is Json =>
  isObject(v) && (typeof v.sequence === "number" || EVENT_KEYS.some((k) => k in v));

/** Reads a preview JSON document or an engine-event log, telling them apart by shape. */
export function parsePreviewText(text: string, source: string): PreviewInput {
  if (text.trim() === "") {
    throw new InputError(
      `${source} is empty: expected the output of \`pulumi preview --json\` or an --event-log file`,
    );
  }
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch (e) {
    // `pulumi preview --json` pretty-prints; an event log has one object per line.
    if (text.trimStart().split(/\r?\n/, 1)[0].trim() === "{") {
      throw new InputError(
        `${source} is not valid JSON (${(e as Error).message}; truncated?): expected the complete output of \`pulumi preview --json\``,
      );
    }
    whole = undefined;
  }
  if (whole !== undefined) {
    if (!isObject(whole)) {
      throw new InputError(
        `${source}: JSON ${show(whole)}: expected an object (pulumi preview --json)`,
      );
    }
    if (isEngineEvent(whole)) return parseEventLog([whole], source, [1]);
    return parsePreviewJson(whole, source);
  }
  const events: Json[] = [];
  const lineNumbers: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new InputError(
        `${source}: line ${i + 1} is not JSON (${(e as Error).message}): expected \`pulumi preview --json\` output or one engine event per line (--event-log)`,
      );
    }
    if (!isEngineEvent(v)) {
      throw new InputError(`${source}: line ${i + 1} = ${show(v)}: expected an engine event`);
    }
    events.push(v);
    lineNumbers.push(i + 1);
  });
  return parseEventLog(events, source, lineNumbers);
}

export function mergePreviews(inputs: readonly PreviewInput[]): PreviewInput {
  return {
    steps: inputs.flatMap((i) => i.steps),
    errors: inputs.flatMap((i) => i.errors),
    policyViolations: inputs.flatMap((i) => i.policyViolations),
    sources: inputs.flatMap((i) => i.sources),
  };
}

export interface ExportedResource {
  readonly urn: string;
  readonly type: string;
  readonly custom: boolean;
  readonly flags: StateFlags;
}

export interface StateExport {
  readonly version: number;
  readonly resources: readonly ExportedResource[];
  readonly pendingOperations: number;
  readonly source: string;
}

/** Reads `pulumi stack export` output. */
export function parseStateExport(text: string, source: string): StateExport {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputError(
      `${source} is not JSON (${(e as Error).message}): expected the output of \`pulumi stack export\``,
    );
  }
  if (!isObject(doc)) throw new InputError(`${source}: ${show(doc)}: expected a JSON object`);
  if (typeof doc.version !== "number" || ![1, 2, 3].includes(doc.version)) {
    throw new InputError(
      `${source}: version = ${show(doc.version)}: expected 3 (or 1-2), as written by \`pulumi stack export\``,
    );
  }
  const dep = doc.deployment;
  if (!isObject(dep)) {
    throw new InputError(`${source}: deployment = ${show(dep)}: expected an object with resources`);
  }
  const list = dep.resources ?? [];
  if (!Array.isArray(list))
    throw new InputError(`${source}: deployment.resources = ${show(list)}: expected a list`);
  const resources = list.map((r, i): ExportedResource => {
    const where = `${source}: deployment.resources[${i}]`;
    if (!isObject(r)) throw new InputError(`${where} = ${show(r)}: expected an object`);
    if (typeof r.urn !== "string" || parseUrn(r.urn) === undefined) {
      throw new InputError(`${where}.urn = ${show(r.urn)}: expected a URN`);
    }
    if (typeof r.type !== "string" || r.type === "") {
      throw new InputError(`${where}.type = ${show(r.type)}: expected a type token`);
    }
    return {
      urn: r.urn,
      type: r.type,
      custom: r.custom === true,
      flags: flagsOf(r, where)!,
    };
  });
  const pending = Array.isArray(dep.pending_operations) ? dep.pending_operations.length : 0;
  return { version: doc.version, resources, pendingOperations: pending, source };
}
