import { RDS_ALLOW_MAJOR_KEY } from "../../components/config/aws";
import { LABELS, RESOURCE_TYPES } from "../../components/contract";
import { ecsBindingVerdicts } from "./bindings-ecs";
import { Classification, parseUrn, StateFlags, StepRecord, Verdict } from "./types";

/*
 * What data each running thing is bound to, read from the old and new states of
 * a preview's steps. A service loses its data without any stateful resource
 * changing when its container mounts another source (a moved dataDir, a renamed
 * volume) or mounts it elsewhere (a changed mount path): it starts on an empty
 * directory, and Postgres initialises a new cluster over it. A Postgres of
 * another major refuses the data it is still bound to.
 *
 * - docker containers labelled LABELS.dataSet: their `mounts` (type, source,
 *   target) and LABELS.postgresMajor (components/contract.ts);
 * - prod: the EBS attachment (which volume the host gets) and the host's data
 *   mount (the device and mount path in the instance's first-boot script);
 * - RDS: a major `engineVersion` change without `allowMajorVersionUpgrade`.
 */

/** Pulumi's marker for a value only known during the update (sdk/go/common/resource/plugin: UnknownStringValue). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const CONTAINER = RESOURCE_TYPES.dockerContainer;
const ATTACHMENT = RESOURCE_TYPES.ebsAttachment;
const INSTANCE = RESOURCE_TYPES.ec2Instance;
const RDS = RESOURCE_TYPES.rdsInstance;

/** Ops whose old state is the one running now / whose new state is the one that will run. */
const NO_OLD = new Set(["create", "import"]);
const NO_NEW = new Set(["delete", "delete-replaced", "discard", "discard-replaced"]);

export interface Binding {
  readonly stack: string;
  readonly urn: string;
  readonly dataSet: string;
  readonly service: string;
  readonly type: string;
  readonly source: string;
  readonly target: string;
  readonly postgresMajor?: string;
}

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function labelsOf(inputs: Obj): Map<string, string> {
  const out = new Map<string, string>();
  const labels = inputs.labels;
  if (Array.isArray(labels)) {
    for (const l of labels) {
      if (isObj(l) && typeof l.label === "string") out.set(l.label, String(l.value ?? ""));
    }
  } else if (isObj(labels)) {
    for (const [k, v] of Object.entries(labels)) out.set(k, String(v));
  }
  return out;
}

/** The data binding of a container state, or undefined when it mounts no data set. */
export function bindingOf(urn: string, state: StateFlags | undefined): Binding | undefined {
  const inputs = state?.inputs;
  if (!isObj(inputs)) return undefined;
  const labels = labelsOf(inputs);
  const dataSet = labels.get(LABELS.dataSet);
  if (dataSet === undefined) return undefined;
  const mounts = Array.isArray(inputs.mounts) ? inputs.mounts.filter(isObj) : [];
  const m = mounts[0];
  return {
    stack: parseUrn(urn)!.stack,
    urn,
    dataSet,
    service: labels.get(LABELS.service) ?? parseUrn(urn)!.name,
    type: m ? String(m.type ?? "?") : "none",
    source: m ? String(m.source ?? "") : "",
    target: m ? String(m.target ?? "") : "",
    postgresMajor: labels.get(LABELS.postgresMajor),
  };
}

const describe = (b: Binding): string =>
  b.type === "none"
    ? "nothing (no mount)"
    : `${b.type === "volume" ? "volume" : b.type === "bind" ? "directory" : b.type} ${
        b.source === UNKNOWN ? "(known only during the update)" : b.source
      } at ${b.target}`;

type Extra = Omit<Verdict, "allowed">;

function verdict(urn: string, type: string, c: Classification, atRisk: boolean, detail: string) {
  const u = parseUrn(urn)!;
  return { stack: u.stack, urn, name: u.name, type, classification: c, atRisk, detail };
}

function detachAdvice(o: Binding, n: Binding): string {
  if (o.target !== n.target) {
    return (
      `keep the mount path ${o.target} (the service's persist variable points there), ` +
      `or move the data and the variable together`
    );
  }
  const how =
    o.type === "bind" || n.type === "bind"
      ? `set dataDir/bindDir back so the service mounts ${o.source}`
      : `set the volume name back to ${o.source}`;
  return (
    `${how}; or move the data first (npm run backup -- --stack ${o.stack}, then restore it into ` +
    `the new place) and re-run the guard with --allow ${n.urn}`
  );
}

function containerVerdicts(steps: readonly StepRecord[]): Extra[] {
  const olds = new Map<string, Binding>();
  const news = new Map<string, Binding>();
  const newUrns = new Set<string>();
  for (const s of steps) {
    if (s.type !== CONTAINER) continue;
    if (!NO_OLD.has(s.op)) {
      const b = bindingOf(s.urn, s.old);
      if (b) olds.set(`${b.stack}/${b.dataSet}`, b);
    }
    if (!NO_NEW.has(s.op) && s.new !== undefined) {
      newUrns.add(s.urn);
      const b = bindingOf(s.urn, s.new);
      if (b) news.set(`${b.stack}/${b.dataSet}`, b);
    }
  }
  const out: Extra[] = [];
  for (const [key, o] of olds) {
    const n =
      news.get(key) ??
      (newUrns.has(o.urn) ? { ...o, type: "none", source: "", target: "" } : undefined);
    // A removed service leaves its data where it is, retained; but unless another service
    // mounts it, nothing reads it after this change (0.1 drops the query and evaluation
    // data sets): the data must be moved first, or the loss of access acknowledged.
    if (n === undefined) {
      out.push(
        verdict(
          o.urn,
          CONTAINER,
          "unmounted",
          true,
          `data set ${o.dataSet} (${describe(o)}) was mounted by service ${o.service}; after this ` +
            `change no service mounts it: its files are kept, and nothing reads them. Rows and ` +
            `documents are not known to a preview (npm run doctor -- --stack ${o.stack} counts them). ` +
            `Move what 0.1 reads with npm run migrate-data -- --stack ${o.stack} (docs/migration.md), ` +
            `or re-run the guard with --allow ${o.urn}`,
        ),
      );
      continue;
    }
    if (o.type !== n.type || o.source !== n.source || o.target !== n.target) {
      out.push(
        verdict(
          n.urn,
          CONTAINER,
          "detached",
          true,
          `service ${n.service} (data set ${o.dataSet}) was bound to ${describe(o)}; ` +
            `this preview binds it to ${describe(n)}: the service starts without its data` +
            `${o.service === "postgres" || o.postgresMajor ? " and Postgres initialises an empty cluster" : ""}. ` +
            `To keep the data: ${detachAdvice(o, n)}`,
        ),
      );
      continue;
    }
    if (o.postgresMajor && n.postgresMajor && o.postgresMajor !== n.postgresMajor) {
      out.push(
        verdict(
          n.urn,
          CONTAINER,
          "major-changed",
          true,
          `service ${n.service}: Postgres ${o.postgresMajor} -> ${n.postgresMajor} on the existing data ` +
            `(${describe(n)}): a Postgres ${n.postgresMajor} server refuses a major-${o.postgresMajor} ` +
            `data directory. Upgrade with npm run pg-upgrade -- --stack ${n.stack} --to ${n.postgresMajor} ` +
            `(dump, restore into a new data directory), or keep a major-${o.postgresMajor} image`,
        ),
      );
    }
  }
  return out;
}

/** The stores each container state says its service reads (LABELS.stores). */
function storesOfState(urn: string, state: StateFlags | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const inputs = state?.inputs;
  if (!isObj(inputs)) return out;
  const labels = labelsOf(inputs);
  const value = labels.get(LABELS.stores);
  if (value === undefined || value === "") return out;
  const service = labels.get(LABELS.service) ?? parseUrn(urn)!.name;
  for (const store of value.split(";")) out.set(store, service);
  return out;
}

/**
 * A store some service read before the change and none reads after it: its data is
 * kept where it is (a table, or a ChromaDB collection in a retained data set), unread.
 * Only containers deployed with the stores label say what they read.
 */
function storeVerdicts(steps: readonly StepRecord[]): Extra[] {
  const before = new Map<string, { service: string; urn: string }>();
  const after = new Set<string>();
  for (const s of steps) {
    if (s.type !== CONTAINER) continue;
    if (!NO_OLD.has(s.op)) {
      for (const [store, service] of storesOfState(s.urn, s.old))
        before.set(store, { service, urn: s.urn });
    }
    if (!NO_NEW.has(s.op) && s.new !== undefined) {
      for (const store of storesOfState(s.urn, s.new).keys()) after.add(store);
    }
  }
  const out: Extra[] = [];
  for (const [store, { service, urn }] of before) {
    if (after.has(store)) continue;
    const stack = parseUrn(urn)!.stack;
    out.push(
      verdict(
        urn,
        CONTAINER,
        "unread",
        true,
        `${store} was read by ${service}; after this change no service reads it: the data stays ` +
          `where it is, unread. Its rows are not known to a preview (npm run doctor -- --stack ${stack} ` +
          `counts them). Migrate it with npm run migrate-data -- --stack ${stack} (docs/migration.md), ` +
          `or re-run the guard with --allow ${urn}`,
      ),
    );
  }
  return out;
}

const str = (o: Obj | undefined, k: string): string | undefined =>
  o !== undefined && typeof o[k] === "string" ? (o[k] as string) : undefined;

function attachmentVerdicts(steps: readonly StepRecord[]): Extra[] {
  const out: Extra[] = [];
  const byUrn = new Map<string, StepRecord[]>();
  for (const s of steps) {
    if (s.type !== ATTACHMENT) continue;
    byUrn.set(s.urn, [...(byUrn.get(s.urn) ?? []), s]);
  }
  for (const [urn, list] of byUrn) {
    const oldVol = list.map((s) => str(s.old?.inputs, "volumeId")).find((v) => v !== undefined);
    const newStates = list.filter((s) => !NO_NEW.has(s.op) && s.new !== undefined);
    const newVol = newStates.map((s) => str(s.new?.inputs, "volumeId")).find(Boolean);
    if (oldVol === undefined) continue;
    if (newStates.length === 0) {
      out.push(
        verdict(
          urn,
          ATTACHMENT,
          "detached",
          true,
          `the data disk ${oldVol} is detached from the Docker host and not attached again: ` +
            `the ebs data sets start empty on the host's root disk mount point. Keep the attachment`,
        ),
      );
    } else if (newVol !== oldVol) {
      out.push(
        verdict(
          urn,
          ATTACHMENT,
          "detached",
          true,
          `the Docker host's data disk changes from ${oldVol} to ${newVol === UNKNOWN || !newVol ? "a disk known only during the update" : newVol}: ` +
            `the ebs data sets start without their data. Adopt the old volume (aws.adoptVolumeId) ` +
            `or copy the data first, then --allow ${urn}`,
        ),
      );
    }
  }
  return out;
}

/** Device and mount path the host's first-boot script mounts the data disk from/at. */
export function hostMountOf(userData: string | undefined): { dev?: string; path?: string } {
  if (userData === undefined) return {};
  return {
    dev: /^DEV=(\S+)$/m.exec(userData)?.[1],
    path: /^RequiresMountsFor=(\S+)$/m.exec(userData)?.[1],
  };
}

function hostMountVerdicts(steps: readonly StepRecord[]): Extra[] {
  const out: Extra[] = [];
  for (const s of steps) {
    if (s.type !== INSTANCE || NO_OLD.has(s.op) || NO_NEW.has(s.op)) continue;
    const o = hostMountOf(str(s.old?.inputs, "userData"));
    const n = hostMountOf(str(s.new?.inputs, "userData"));
    if (o.path === undefined || n.path === undefined) continue;
    if (o.path !== n.path || o.dev !== n.dev) {
      out.push(
        verdict(
          s.urn,
          INSTANCE,
          "detached",
          true,
          `the host's data mount changes from ${o.dev} at ${o.path} to ${n.dev} at ${n.path}: ` +
            `the data sets under it start empty. Set aws.dataMountPath back to ${o.path}, ` +
            `or move the data first and --allow ${s.urn}`,
        ),
      );
    }
  }
  return out;
}

/** Postgres major of a version string: "15.4" -> "15", "9.6.2" -> "9.6" (majors before 10 had two parts). */
export function majorOf(version: string): string {
  const parts = version.split(".");
  return Number(parts[0]) < 10 && parts.length > 1 ? `${parts[0]}.${parts[1]}` : parts[0];
}

function rdsVerdicts(steps: readonly StepRecord[]): Extra[] {
  const out: Extra[] = [];
  for (const s of steps) {
    if (s.type !== RDS || NO_OLD.has(s.op) || NO_NEW.has(s.op)) continue;
    const o = str(s.old?.inputs, "engineVersion");
    const n = str(s.new?.inputs, "engineVersion");
    if (o === undefined || n === undefined || n === UNKNOWN || majorOf(o) === majorOf(n)) continue;
    // Upgraded outside Pulumi and refreshed: the server already runs the new major.
    const running = str(s.old?.outputs, "engineVersion");
    const planned =
      s.new?.inputs?.allowMajorVersionUpgrade === true ||
      (running !== undefined && majorOf(running) === majorOf(n));
    out.push(
      verdict(
        s.urn,
        RDS,
        planned ? "major-planned" : "major-unplanned",
        !planned,
        planned
          ? `engineVersion ${o} -> ${n}: a planned major upgrade (allowMajorVersionUpgrade, or already upgraded); RDS takes a snapshot first`
          : `engineVersion ${o} -> ${n} changes the Postgres major without allowMajorVersionUpgrade ` +
              `(config key ${RDS_ALLOW_MAJOR_KEY}, default false): ` +
              `RDS refuses it and the update fails half-way. Plan it: npm run pg-upgrade -- --stack ` +
              `${parseUrn(s.urn)!.stack} --to ${majorOf(n)} takes a snapshot and prints the change`,
      ),
    );
  }
  return out;
}

/** Verdicts on data bindings and majors; the stateful-resource rules do not see any of these. */
export function bindingVerdicts(steps: readonly StepRecord[]): Extra[] {
  return [
    ...containerVerdicts(steps),
    ...storeVerdicts(steps),
    ...attachmentVerdicts(steps),
    ...hostMountVerdicts(steps),
    ...rdsVerdicts(steps),
    ...ecsBindingVerdicts(steps),
  ];
}
