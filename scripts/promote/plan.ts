import { DEFAULTS } from "../../components/settings";
import { DIGEST, displayKey, PROMOTABLE, PromotableField } from "./promotable";

/** The parts of a stack file the plan needs. */
export interface StackView {
  readonly stack: string;
  readonly fileName: string;
  /** The file's `config:` block as plain data. */
  readonly config: Record<string, unknown>;
}

/** One promotable value that differs: `~` changed, `+` added, `-` removed. */
export interface Change {
  readonly op: "~" | "+" | "-";
  readonly service: string;
  readonly field: PromotableField;
  /** Set for env changes. */
  readonly envKey?: string;
  readonly from?: string;
  readonly to?: string;
}

export interface Plan {
  /** Sorted by service, then image before env, then env key. */
  readonly changes: readonly Change[];
  /** Services left out on purpose, with the reason (printed with the diff). */
  readonly skipped: readonly { service: string; reason: string }[];
  /** Services only the target has; promotion leaves them alone. */
  readonly targetOnly: readonly string[];
  /** Reasons to refuse; when non-empty nothing may be written. */
  readonly problems: readonly string[];
  /** Promotable values the target must hold afterwards, per promoted service. */
  readonly expected: ReadonlyMap<string, { image: string; env: Record<string, string> }>;
}

type Raw = Record<string, unknown>;
// The services come from the stack files themselves: there is no built-in catalogue.
const DEFAULT_BY_NAME: Record<string, { kind: string; image?: string } | undefined> = {};

function obj(v: unknown): Raw | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Raw) : undefined;
}

function servicesOf(view: StackView): Raw {
  return obj(view.config[PROMOTABLE.servicesKey]) ?? {};
}

function environmentOf(view: StackView): string {
  const v = view.config["panopticon:environment"];
  return typeof v === "string" ? v : DEFAULTS.environment;
}

function kindOf(view: StackView, name: string): string {
  const k = obj(servicesOf(view)[name])?.kind;
  return typeof k === "string" ? k : (DEFAULT_BY_NAME[name]?.kind ?? "app");
}

/** The image a stack runs for a service: its own `image`, else the built-in default. */
function imageOf(view: StackView, name: string): { image?: string; fromDefault: boolean } {
  const own = obj(servicesOf(view)[name])?.image;
  if (typeof own === "string") return { image: own, fromDefault: false };
  return { image: DEFAULT_BY_NAME[name]?.image, fromDefault: true };
}

/** The app-level env a stack sets for a service (strings only; the schema checked them). */
function envOf(view: StackView, name: string): Record<string, string> {
  const env = obj(obj(servicesOf(view)[name])?.env) ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === "string") out[k] = v;
  return out;
}

/** Why a service is never promoted between these stacks, or undefined. */
export function skipReason(source: StackView, target: StackView, name: string): string | undefined {
  const awsSide =
    environmentOf(target) === "aws" ? target : environmentOf(source) === "aws" ? source : null;
  if (
    awsSide !== null &&
    (kindOf(target, name) === "postgres" || kindOf(source, name) === "postgres")
  ) {
    return `kind postgres and ${awsSide.stack} is environment aws (RDS replaces the container; its image is never run)`;
  }
  return undefined;
}

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Compares the promotable settings of two validated stack files and decides
 * what promotion changes in the target. Pure: reads nothing, writes nothing.
 *
 * - Every image the target would run afterwards must be pinned by digest, changed
 *   or not, so a promoted stack never runs a movable tag.
 * - `env` is mirrored: the target ends with exactly the source's keys.
 * - Services of kind postgres are skipped when either stack is environment aws:
 *   there RDS replaces the container and the image is never run.
 * - A service whose block is missing from the target file is refused when it
 *   needs a change: creating the block is an environment decision for a person.
 */
export function planPromotion(source: StackView, target: StackView): Plan {
  const changes: Change[] = [];
  const skipped: { service: string; reason: string }[] = [];
  const problems: string[] = [];
  const expected = new Map<string, { image: string; env: Record<string, string> }>();

  const srcServices = servicesOf(source);
  const tgtServices = servicesOf(target);
  const names = Object.keys(srcServices).sort(byKey);

  for (const name of names) {
    const reason = skipReason(source, target, name);
    if (reason !== undefined) {
      skipped.push({ service: name, reason });
      continue;
    }

    const src = imageOf(source, name);
    if (src.image === undefined) continue; // the schema guarantees an image; nothing to promote
    if (!DIGEST.test(src.image)) {
      problems.push(
        `${displayKey(name, "image")} = ${JSON.stringify(src.image)} in ${source.fileName}` +
          (src.fromDefault ? " (the built-in default; the file sets no image)" : "") +
          `: expected an image pinned by digest (<image>@sha256:<64 hex digits>); a tag can move, so ${target.stack} might not run what ${source.stack} ran`,
      );
    }
    const srcEnv = envOf(source, name);
    expected.set(name, { image: src.image, env: srcEnv });

    const own: Change[] = [];
    const tgtBlock = obj(tgtServices[name]);
    const tgtImage = imageOf(target, name);
    if (tgtImage.image !== src.image) {
      own.push(
        tgtImage.fromDefault
          ? { op: "+", service: name, field: "image", from: tgtImage.image, to: src.image }
          : { op: "~", service: name, field: "image", from: tgtImage.image, to: src.image },
      );
    }
    const tgtEnv = envOf(target, name);
    for (const k of [...new Set([...Object.keys(srcEnv), ...Object.keys(tgtEnv)])].sort(byKey)) {
      const from = tgtEnv[k];
      const to = srcEnv[k];
      if (from === to) continue;
      if (from === undefined) own.push({ op: "+", service: name, field: "env", envKey: k, to });
      else if (to === undefined)
        own.push({ op: "-", service: name, field: "env", envKey: k, from });
      else own.push({ op: "~", service: name, field: "env", envKey: k, from, to });
    }
    if (own.length > 0 && tgtBlock === undefined) {
      problems.push(
        `${PROMOTABLE.servicesKey}.${name}: ${target.fileName} has no block for this service. ` +
          `Adding a service block is an environment change, so promote does not create it: add ` +
          `"${name}:" with its environment settings under ${PROMOTABLE.servicesKey} in ${target.fileName} by hand (in a reviewed commit), then promote again`,
      );
    }
    changes.push(...own);
  }

  const targetOnly = Object.keys(tgtServices)
    .filter((n) => !names.includes(n))
    .sort(byKey);
  return { changes, skipped, targetOnly, problems, expected };
}

function show(v: string | undefined): string {
  return v === undefined ? "(unset)" : JSON.stringify(v);
}

/** The diff as the command prints it, one line per change. */
export function formatPlan(plan: Plan, source: StackView, target: StackView): string[] {
  const lines = [
    `promote ${source.stack} -> ${target.stack} (${source.fileName} -> ${target.fileName})`,
  ];
  for (const c of plan.changes) {
    const key = displayKey(c.service, c.field, c.envKey);
    if (c.op === "~") lines.push(`~ ${key}: ${show(c.from)} -> ${show(c.to)}`);
    else if (c.op === "+" && c.from !== undefined) {
      lines.push(`+ ${key}: ${show(c.to)} (instead of the built-in default ${show(c.from)})`);
    } else if (c.op === "+") lines.push(`+ ${key}: ${show(c.to)}`);
    else lines.push(`- ${key}: ${show(c.from)}`);
  }
  for (const s of plan.skipped) {
    lines.push(`  skipped ${PROMOTABLE.servicesKey}.${s.service}: ${s.reason}`);
  }
  for (const n of plan.targetOnly) {
    lines.push(
      `  left alone ${PROMOTABLE.servicesKey}.${n}: only ${target.fileName} has this service`,
    );
  }
  return lines;
}
