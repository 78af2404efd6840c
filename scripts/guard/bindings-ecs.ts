import { RESOURCE_TYPES } from "../../components/contract";
import { Classification, parseUrn, StepRecord, Verdict } from "./types";

/*
 * Data bindings of the ECS runtime. A Fargate task reaches its files through an
 * EFS access point (file system + root directory) mounted at a path of its
 * container; move either and the task starts on an empty directory, though the
 * file system itself is untouched.
 */

const ACCESS_POINT = RESOURCE_TYPES.efsAccessPoint;
const TASK_DEFINITION = RESOURCE_TYPES.ecsTaskDefinition;
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const NO_OLD = new Set(["create", "import"]);
const NO_NEW = new Set(["delete", "delete-replaced", "discard", "discard-replaced"]);

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
type Extra = Omit<Verdict, "allowed">;

function verdict(urn: string, type: string, c: Classification, detail: string): Extra {
  const u = parseUrn(urn)!;
  return { stack: u.stack, urn, name: u.name, type, classification: c, atRisk: true, detail };
}

/** "fs-1 /panopticon/prod/judge" of an access point's inputs. */
function rootOf(inputs: Obj | undefined): { fs: string; path: string } | undefined {
  if (inputs === undefined) return undefined;
  const root = isObj(inputs.rootDirectory) ? inputs.rootDirectory : {};
  return { fs: String(inputs.fileSystemId ?? ""), path: String(root.path ?? "/") };
}

function accessPointVerdicts(steps: readonly StepRecord[]): Extra[] {
  const out: Extra[] = [];
  const seen = new Set<string>();
  for (const s of steps) {
    if (s.type !== ACCESS_POINT || NO_OLD.has(s.op) || NO_NEW.has(s.op) || seen.has(s.urn)) {
      continue;
    }
    const o = rootOf(s.old?.inputs);
    const n = rootOf(s.new?.inputs);
    if (o === undefined || n === undefined) continue;
    seen.add(s.urn);
    if (o.fs === n.fs && o.path === n.path) continue;
    const show = (r: { fs: string; path: string }) =>
      `${r.fs === UNKNOWN ? "a file system known only during the update" : r.fs}:${r.path}`;
    out.push(
      verdict(
        s.urn,
        ACCESS_POINT,
        "detached",
        `the EFS access point's root moves from ${show(o)} to ${show(n)}: the ECS tasks that ` +
          `mount it start without their data (the files stay at ${o.path}). Keep the data set's ` +
          `name and the file system, or copy the files first and --allow ${s.urn}`,
      ),
    );
  }
  return out;
}

/** container name -> "volume at path" of a task definition's containerDefinitions JSON. */
function mountsOf(inputs: Obj | undefined): Map<string, string> | undefined {
  const raw = inputs?.containerDefinitions;
  if (typeof raw !== "string" || raw.includes(UNKNOWN)) return undefined;
  let defs: unknown;
  try {
    defs = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!Array.isArray(defs)) return undefined;
  const out = new Map<string, string>();
  for (const d of defs.filter(isObj)) {
    const mounts = Array.isArray(d.mountPoints) ? d.mountPoints.filter(isObj) : [];
    if (mounts.length === 0) continue;
    out.set(
      String(d.name),
      mounts
        .map((m) => `volume ${String(m.sourceVolume)} at ${String(m.containerPath)}`)
        .join(", "),
    );
  }
  return out;
}

function taskDefinitionVerdicts(steps: readonly StepRecord[]): Extra[] {
  const out: Extra[] = [];
  const seen = new Set<string>();
  for (const s of steps) {
    if (s.type !== TASK_DEFINITION || NO_OLD.has(s.op) || NO_NEW.has(s.op) || seen.has(s.urn)) {
      continue;
    }
    const o = mountsOf(s.old?.inputs);
    const n = mountsOf(s.new?.inputs);
    // Unknown until the update (e.g. a new log group): nothing to compare yet.
    if (o === undefined || n === undefined) continue;
    seen.add(s.urn);
    for (const [container, was] of o) {
      const now = n.get(container);
      if (now === was) continue;
      out.push(
        verdict(
          s.urn,
          TASK_DEFINITION,
          "detached",
          `container ${container} mounted ${was}; this preview mounts ${now ?? "nothing"}: its ` +
            `tasks start without their data. Keep the mount path (the persist variable points ` +
            `there), or move data and variable together, then --allow ${s.urn}`,
        ),
      );
      break;
    }
  }
  return out;
}

export function ecsBindingVerdicts(steps: readonly StepRecord[]): Extra[] {
  return [...accessPointVerdicts(steps), ...taskDefinitionVerdicts(steps)];
}
