import { isDeepStrictEqual } from "util";
import { isSecretWrapper, ProgramRun, RecordedResource } from "./harness";

/*
 * A preview built the way the engine builds one: the first run of the program is
 * the stack's state, the second is the program being previewed. Each resource is
 * matched by URN and diffed on its inputs; which properties force a replacement
 * follows the providers' schemas for the types this program uses (everything not
 * listed updates in place). The result is written in Pulumi's own formats:
 *
 * - `pulumi preview --json`: a PreviewDigest (pkg/display/json.go), steps of
 *   {op, urn, provider, oldState, newState, diffReasons, replaceReasons, detailedDiff}
 *   whose states are apitype.ResourceV3 (protect/retainOnDelete omitted when false,
 *   secrets shown as "[secret]");
 * - `--event-log`: one apitype.EngineEvent per line, a resourcePreEvent per step
 *   whose metadata {op, urn, type, old, new, keys, diffs} carries StepEventStateMetadata.
 */

/** Inputs that update in place; every other input of these types forces a replacement. */
const UPDATABLE: Record<string, ReadonlySet<string> | "all-replace"> = {
  "docker:index/container:Container": new Set([
    "restart",
    "memory",
    "memorySwap",
    "cpuShares",
    "cpuSet",
    "destroyGraceSeconds",
    "wait",
    "waitTimeout",
    "mustRun",
    "attach",
    "logs",
  ]),
  "docker:index/volume:Volume": "all-replace",
  "docker:index/remoteImage:RemoteImage": new Set(["keepLocally"]),
  "docker:index/network:Network": "all-replace",
};
/** Types whose listed inputs force a replacement; the rest update in place. */
const REPLACING: Record<string, ReadonlySet<string>> = {
  "aws:ec2/volumeAttachment:VolumeAttachment": new Set(["deviceName", "instanceId", "volumeId"]),
  "aws:rds/instance:Instance": new Set([
    "identifier",
    "engine",
    "dbName",
    "username",
    "storageEncrypted",
    "kmsKeyId",
    "availabilityZone",
    "snapshotIdentifier",
  ]),
  "aws:ebs/volume:Volume": new Set(["availabilityZone", "encrypted", "kmsKeyId", "snapshotId"]),
  "aws:ec2/instance:Instance": new Set(["ami", "subnetId", "instanceType", "keyName"]),
};

const clean = (v: unknown): unknown => {
  if (isSecretWrapper(v)) return "[secret]";
  if (Array.isArray(v)) return v.map(clean);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clean(x)]));
  }
  return v;
};

function changedKeys(o: RecordedResource, n: RecordedResource): string[] {
  const keys = new Set([...Object.keys(o.inputs), ...Object.keys(n.inputs)]);
  return [...keys]
    .filter((k) => !n.ignoreChanges.includes(k))
    .filter((k) => !isDeepStrictEqual(clean(o.inputs[k]), clean(n.inputs[k])))
    .sort();
}

function replaceKeys(r: RecordedResource, changed: string[]): string[] {
  const upd = UPDATABLE[r.type];
  if (upd === "all-replace") return changed;
  if (upd !== undefined) return changed.filter((k) => !upd.has(k));
  const rep = REPLACING[r.type];
  const forced = rep ? changed.filter((k) => rep.has(k)) : [];
  return [
    ...forced,
    ...changed.filter((k) => r.replaceOnChanges.includes(k) && !forced.includes(k)),
  ];
}

interface Step {
  op: string;
  urn: string;
  type: string;
  old?: RecordedResource;
  new?: RecordedResource;
  diffs: string[];
  keys: string[];
}

/** The steps the engine would plan to go from `before` (the state) to `after` (the program). */
export function planSteps(before: ProgramRun, after: ProgramRun): Step[] {
  const olds = new Map(before.resources.map((r) => [r.urn, r]));
  const news = new Map(after.resources.map((r) => [r.urn, r]));
  const steps: Step[] = [];
  for (const n of after.resources) {
    const o = olds.get(n.urn);
    if (o === undefined) {
      steps.push({ op: "create", urn: n.urn, type: n.type, new: n, diffs: [], keys: [] });
      continue;
    }
    const diffs = n.custom ? changedKeys(o, n) : [];
    const keys = n.custom ? replaceKeys(n, diffs) : [];
    const base = { urn: n.urn, type: n.type, old: o, new: n, diffs, keys };
    if (diffs.length === 0) steps.push({ op: "same", ...base });
    else if (keys.length === 0) steps.push({ op: "update", ...base });
    else if (n.deleteBeforeReplace) {
      for (const op of ["delete-replaced", "replace", "create-replacement"])
        steps.push({ op, ...base });
    } else {
      for (const op of ["create-replacement", "replace", "delete-replaced"])
        steps.push({ op, ...base });
    }
  }
  for (const o of before.resources) {
    if (!news.has(o.urn))
      steps.push({ op: "delete", urn: o.urn, type: o.type, old: o, diffs: [], keys: [] });
  }
  return steps;
}

/** apitype.ResourceV3 of a recorded resource (mock outputs echo the inputs). */
function resourceV3(r: RecordedResource): Record<string, unknown> {
  const inputs = clean(r.inputs) as Record<string, unknown>;
  return {
    urn: r.urn,
    custom: r.custom,
    ...(r.custom ? { id: `${r.name}-id` } : {}),
    type: r.type,
    inputs,
    outputs: inputs,
    ...(r.parent ? { parent: r.parent } : {}),
    ...(r.protect ? { protect: true } : {}),
    ...(r.retainOnDelete ? { retainOnDelete: true } : {}),
    ...(r.dependencies.length > 0 ? { dependencies: r.dependencies } : {}),
  };
}

/** `pulumi preview --json` output for the change from `before` to `after`. */
export function previewDigest(before: ProgramRun, after: ProgramRun): string {
  const steps = planSteps(before, after);
  const changeSummary: Record<string, number> = {};
  for (const s of steps) changeSummary[s.op] = (changeSummary[s.op] ?? 0) + 1;
  return JSON.stringify(
    {
      config: {},
      steps: steps.map((s) => ({
        op: s.op,
        urn: s.urn,
        ...(s.old ? { oldState: resourceV3(s.old) } : {}),
        ...(s.new && s.op !== "delete-replaced" ? { newState: resourceV3(s.new) } : {}),
        ...(s.diffs.length > 0 ? { diffReasons: s.diffs } : {}),
        ...(s.keys.length > 0 ? { replaceReasons: s.keys } : {}),
        detailedDiff: null,
      })),
      duration: 1_000_000_000,
      changeSummary,
    },
    null,
    4,
  );
}

/** StepEventStateMetadata of a recorded resource. */
function stepState(r: RecordedResource): Record<string, unknown> {
  const inputs = clean(r.inputs);
  return {
    type: r.type,
    urn: r.urn,
    custom: r.custom,
    id: r.custom ? `${r.name}-id` : "",
    parent: r.parent,
    protect: r.protect,
    retainOnDelete: r.retainOnDelete,
    inputs,
    outputs: inputs,
    provider: r.provider,
  };
}

/** `pulumi preview --event-log FILE` content for the change from `before` to `after`. */
export function eventLog(before: ProgramRun, after: ProgramRun): string {
  const steps = planSteps(before, after);
  let sequence = 0;
  const ev = (body: Record<string, unknown>) =>
    JSON.stringify({ sequence: sequence++, timestamp: 1795433531, ...body });
  return [
    ev({ preludeEvent: { config: {} } }),
    ...steps.map((s) =>
      ev({
        resourcePreEvent: {
          metadata: {
            op: s.op,
            urn: s.urn,
            type: s.type,
            ...(s.old ? { old: stepState(s.old) } : {}),
            ...(s.new && s.op !== "delete-replaced" ? { new: stepState(s.new) } : {}),
            keys: s.keys,
            diffs: s.diffs,
            detailedDiff: null,
            provider: "",
          },
          planning: true,
        },
      }),
    ),
    ev({ summaryEvent: { maybeCorrupt: false, durationSeconds: 1, resourceChanges: {} } }),
  ].join("\n");
}
