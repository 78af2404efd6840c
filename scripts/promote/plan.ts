import { DEFAULTS } from "../../components/config/settings";
import { DIGEST, displayKey, PROMOTABLE, PromotableField } from "./promotable";
import { composeServices, databaseServices, parseRelease, Release, sameRelease } from "./release";

/** The parts of a stack file the plan needs. */
export interface StackView {
  readonly stack: string;
  readonly fileName: string;
  /** The file's `config:` block as plain data (its `panopticon:release` is the release it runs). */
  readonly config: Record<string, unknown>;
  /** The services the source ran under its release, when its outputs said (see layoutOf). */
  readonly layout?: readonly string[];
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
  /** The release the target gets (source's), when it differs from the one it holds. */
  readonly release?: { readonly from?: Release; readonly to: Release };
  /** Set when the source carries a release: the services it adds to and removes from the target. */
  readonly layout?: {
    readonly release: Release;
    readonly services: readonly string[];
    readonly added: readonly string[];
    readonly removed: readonly string[];
  };
  /** Services whose block the edit creates (new in the release). */
  readonly newBlocks: ReadonlySet<string>;
  /** Services whose block the edit deletes: gone from the release, and nothing else was in it. */
  readonly removedBlocks: ReadonlySet<string>;
}

type Raw = Record<string, unknown>;

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

/** The release a stack file holds (`panopticon:release`), already validated on load. */
export function releaseOf(view: StackView): Release | undefined {
  const v = view.config[PROMOTABLE.releaseKey];
  return v === undefined ? undefined : parseRelease(v, view.fileName);
}

function kindOf(view: StackView, name: string): string {
  const k = obj(servicesOf(view)[name])?.kind;
  if (typeof k === "string") return k;
  // The service that mounts Postgres's data directory in the release is the database.
  const release = releaseOf(view);
  if (release !== undefined && databaseServices(release).has(name)) return "postgres";
  return "app";
}

/**
 * The image a stack file sets for a service. There is no built-in default: compose
 * builds Panopticon's images and publishes none, so a stack without a checkout runs
 * exactly the images its file pins.
 */
function imageOf(view: StackView, name: string): string | undefined {
  const own = obj(servicesOf(view)[name])?.image;
  return typeof own === "string" ? own : undefined;
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
 * - There is no built-in image: a service the source runs without one is refused.
 * - A service whose block is missing from the target file is refused when it needs a
 *   change, unless the release's compose file has it: creating the block of a service
 *   the source's own file defines (its port, data, healthcheck) is an environment decision.
 * - With a release (the source's `panopticon:release`), the release is the service
 *   layout: the target gets it, each of its compose services gets a block when it has
 *   none, and a service the release no longer has loses its image and env (and its
 *   block, when nothing else is in it).
 */
export function planPromotion(source: StackView, target: StackView): Plan {
  const draft: Draft = {
    changes: [],
    skipped: [],
    problems: [],
    expected: new Map(),
    newBlocks: new Set(),
    removedBlocks: new Set(),
  };
  const release = releaseOf(source);
  const held = releaseOf(target);
  const names = promotedNames(source, release);
  // The release's compose services get a block in the target when they need one; a
  // service the source's own file defines (its port, data, healthcheck: environment
  // settings, never promoted) needs its block written by hand.
  const inCompose = new Set(release === undefined ? [] : composeServices(release));
  for (const name of names) planService(source, target, name, inCompose.has(name), draft);
  const layout =
    release === undefined ? undefined : planLayout(source, target, release, names, draft);
  const targetOnly = Object.keys(servicesOf(target))
    .filter((n) => !names.includes(n) && !(layout?.removed.includes(n) ?? false))
    .filter((n) => skipReason(source, target, n) === undefined)
    .sort(byKey);
  return {
    ...draft,
    targetOnly,
    release:
      release !== undefined && !sameRelease(release, held)
        ? { from: held, to: release }
        : undefined,
    layout,
  };
}

/** The parts of a Plan built service by service. */
interface Draft {
  readonly changes: Change[];
  readonly skipped: { service: string; reason: string }[];
  readonly problems: string[];
  readonly expected: Map<string, { image: string; env: Record<string, string> }>;
  readonly newBlocks: Set<string>;
  readonly removedBlocks: Set<string>;
}

/** The services promoted: the release's layout, or (file to file) every one the source has. */
function promotedNames(source: StackView, release: Release | undefined): string[] {
  const srcServices = servicesOf(source);
  const pins = (n: string) => typeof obj(srcServices[n])?.image === "string";
  return [
    ...(release === undefined
      ? new Set(Object.keys(srcServices).filter((n) => srcServices[n] !== false))
      : (source.layout ?? layoutOf(release, srcServices, pins))),
  ].sort(byKey);
}

/** One service: skipped, refused (no image, no digest, no block), or its changes. */
function planService(
  source: StackView,
  target: StackView,
  name: string,
  inCompose: boolean,
  draft: Draft,
): void {
  const reason = skipReason(source, target, name);
  if (reason !== undefined) {
    draft.skipped.push({ service: name, reason });
    return;
  }
  const image = imageOf(source, name);
  if (image === undefined) {
    draft.problems.push(
      `${displayKey(name, "image")} = (missing) in ${source.fileName}: there is no built-in image (compose builds ${name} and publishes none): expected an image pinned by digest (<image>@sha256:<64 hex digits>), so ${target.stack} runs what ${source.stack} ran`,
    );
    return;
  }
  if (!DIGEST.test(image)) {
    draft.problems.push(
      `${displayKey(name, "image")} = ${JSON.stringify(image)} in ${source.fileName}` +
        `: expected an image pinned by digest (<image>@sha256:<64 hex digits>); a tag can move, so ${target.stack} might not run what ${source.stack} ran`,
    );
  }
  const srcEnv = envOf(source, name);
  draft.expected.set(name, { image, env: srcEnv });
  const own = serviceChanges(target, name, image, srcEnv);
  const noBlock = obj(servicesOf(target)[name]) === undefined;
  if (own.length > 0 && noBlock && inCompose) {
    draft.newBlocks.add(name);
  } else if (own.length > 0 && noBlock) {
    draft.problems.push(
      `${PROMOTABLE.servicesKey}.${name}: ${target.fileName} has no block for this service. ` +
        `Adding a service block is an environment change, so promote does not create it: add ` +
        `"${name}:" with its environment settings under ${PROMOTABLE.servicesKey} in ${target.fileName} by hand (in a reviewed commit), then promote again`,
    );
  }
  draft.changes.push(...own);
}

/** What the target's image and env of one service need to become the source's. */
function serviceChanges(
  target: StackView,
  name: string,
  image: string,
  srcEnv: Record<string, string>,
): Change[] {
  const own: Change[] = [];
  const tgtImage = imageOf(target, name);
  if (tgtImage !== image) {
    own.push(
      tgtImage === undefined
        ? { op: "+", service: name, field: "image", to: image }
        : { op: "~", service: name, field: "image", from: tgtImage, to: image },
    );
  }
  const tgtEnv = envOf(target, name);
  for (const k of [...new Set([...Object.keys(srcEnv), ...Object.keys(tgtEnv)])].sort(byKey)) {
    const from = tgtEnv[k];
    const to = srcEnv[k];
    if (from === to) continue;
    if (from === undefined) own.push({ op: "+", service: name, field: "env", envKey: k, to });
    else if (to === undefined) own.push({ op: "-", service: name, field: "env", envKey: k, from });
    else own.push({ op: "~", service: name, field: "env", envKey: k, from, to });
  }
  return own;
}

/**
 * The layout a release brings: the services it adds to the target, and those it
 * removes, whose image and env go (and their block, when nothing else is in it).
 */
function planLayout(
  source: StackView,
  target: StackView,
  release: Release,
  names: readonly string[],
  draft: Draft,
): NonNullable<Plan["layout"]> {
  const tgtServices = servicesOf(target);
  const before = servicesBefore(target);
  const inLayout = (n: string) => skipReason(source, target, n) === undefined;
  const added = names.filter((n) => !before.includes(n) && inLayout(n));
  const removed = before.filter((n) => !names.includes(n) && inLayout(n)).sort(byKey);
  for (const name of removed) {
    const block = obj(tgtServices[name]);
    if (block === undefined) continue;
    if (typeof block.image === "string") {
      draft.changes.push({ op: "-", service: name, field: "image", from: block.image });
    }
    for (const [k, v] of Object.entries(envOf(target, name))) {
      draft.changes.push({ op: "-", service: name, field: "env", envKey: k, from: v });
    }
    if (Object.keys(block).every((k) => k === "image" || k === "env")) {
      draft.removedBlocks.add(name);
    }
  }
  return { release, services: names, added, removed };
}

/**
 * What the target ran before: its release's services, or (before its first release)
 * every service it pins an image for, except those its own file defines (a block with
 * its own kind or port is the target's service, not the layout's).
 */
function servicesBefore(target: StackView): string[] {
  const held = releaseOf(target);
  if (held !== undefined) return composeServices(held);
  const tgtServices = servicesOf(target);
  const own = (b: Raw | undefined) => b?.kind !== undefined || b?.port !== undefined;
  return Object.keys(tgtServices).filter((n) => {
    const b = obj(tgtServices[n]);
    return b?.image !== undefined && !own(b);
  });
}

/**
 * The services a release runs: its compose file's, plus those the source's stack
 * config adds (a block for a service compose lacks, that the source `ran`), minus
 * those its config removes (`services.<name>: false`).
 */
export function layoutOf(
  release: Release,
  srcServices: Raw,
  ran: (service: string) => boolean,
): string[] {
  const names = new Set(composeServices(release));
  for (const [name, v] of Object.entries(srcServices)) {
    if (v === false) names.delete(name);
    else if (obj(v) !== undefined && !names.has(name) && ran(name)) names.add(name);
  }
  return [...names];
}
