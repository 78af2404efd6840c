import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { environmentChanges, unmetExpectations } from "./invariant";
import { DeployedOutputs, describeSource, OutputSource, readOutputs, refusal } from "./outputs";
import { formatPlan } from "./format";
import { layoutOf, planPromotion, releaseOf, skipReason, StackView } from "./plan";
import { PROMOTABLE } from "./promotable";
import { PROJECT } from "../../components/config/naming";
import { OUTPUTS } from "../../components/contract";
import { checkReleaseBlock, parseRelease, Release, releaseRefusal } from "./release";
import {
  checkStackName,
  loadStackFile,
  peekConfig,
  parseStackText,
  readStackText,
  displayPath,
  StackFile,
  stackFileName,
} from "../lib/stack-file";
import { applyChanges, EditError } from "./yaml-edit";
import { EnvironmentError, EXIT, RefusedError, ToolError, UsageError } from "../lib/exit-codes";

export interface PromoteOptions {
  readonly from: string;
  readonly to: string;
  /** Directory holding the stack files (the project root by default). */
  readonly dir: string;
  /** Apply the change to the target file (otherwise only show it). */
  readonly write?: boolean;
  /** Exit 1 when the target differs from the source in promotable settings. */
  readonly check?: boolean;
  /**
   * A saved `pulumi stack output --stack <from> --json` of the source stack. @default when
   * the source builds images (panopticon:appSource): its deployed outputs, read with the
   * Pulumi CLI; otherwise the images (and release) its stack file holds (file-to-file)
   */
  readonly fromOutputs?: string;
  /** Reads a stack's outputs (tests replace the Pulumi CLI). @default readOutputs */
  readonly readOutputs?: (src: OutputSource) => DeployedOutputs;
}

export interface PromoteResult {
  readonly exitCode: number;
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
  readonly written: boolean;
}

/**
 * Runs one promotion without touching process state, so tests call it directly.
 * Nothing is written unless every check passed and `write` is set.
 */
export function promote(opts: PromoteOptions): PromoteResult {
  const stdout: string[] = [];
  try {
    return run(opts, stdout);
  } catch (e) {
    if (e instanceof EnvironmentError) {
      // One line, as scripts/deploy.sh says it: what is missing and how to get it.
      return { exitCode: e.exitCode, stdout, stderr: [`promote: ${e.message}`], written: false };
    }
    if (e instanceof ToolError) {
      return {
        exitCode: e.exitCode,
        stdout,
        stderr: [`promote: ${e.kind}: ${e.message}`, "nothing was written"],
        written: false,
      };
    }
    throw e;
  }
}

function run(opts: PromoteOptions, stdout: string[]): PromoteResult {
  if (opts.write && opts.check) {
    throw new UsageError("--write and --check: expected at most one of them");
  }
  checkStackName("--from", opts.from);
  checkStackName("--to", opts.to);
  if (opts.from === opts.to) {
    throw new UsageError(
      `--from ${opts.from} --to ${opts.to}: expected two different stacks (promotion copies one stack's release into another)`,
    );
  }
  const dir = path.resolve(opts.dir);
  // Both files exist and differ before anything else is asked (the Pulumi CLI included).
  const from = readStackText(dir, opts.from, "--from").file;
  const to = readStackText(dir, opts.to, "--to").file;
  if (fs.realpathSync(from) === fs.realpathSync(to)) {
    throw new UsageError(
      `${stackFileName(opts.from)} and ${stackFileName(opts.to)} are the same file: expected two different stacks`,
    );
  }
  // A stack that builds from a checkout is promoted from what it deployed (its outputs),
  // not from its stack file: the checkout may be at another commit, or not here at all.
  const deployed =
    opts.fromOutputs !== undefined ||
    typeof peekConfig(dir, opts.from, "--from")[`${PROJECT}:appSource`] === "string"
      ? readDeployed(opts, dir, stdout)
      : undefined;
  const source = loadStackFile(dir, opts.from, "--from", {
    inspect: checkReleaseBlock,
    assume: deployed === undefined ? {} : { [PROMOTABLE.releaseKey]: deployed.release },
  });
  // A target about to get its first release gets its images with it: before the edit
  // it can only be incomplete, so its settings are checked on the edited text alone.
  const carried = deployed?.release ?? releaseOf(source);
  const firstRelease =
    carried !== undefined && peekConfig(dir, opts.to, "--to")[PROMOTABLE.releaseKey] === undefined;
  const target = loadStackFile(dir, opts.to, "--to", {
    inspect: checkReleaseBlock,
    settings: firstRelease ? "after-edit" : "now",
  });

  const released = deployed === undefined ? source : releasedView(deployed, source, target);
  const plan = planPromotion(released, target);
  // The release replaces the target's as one value: it counts as one change.
  const count = plan.changes.length + (plan.release === undefined ? 0 : 1);
  stdout.push(...formatPlan(plan, source, target));
  if (plan.problems.length > 0) {
    throw new RefusedError(
      `${plan.problems.length} problem(s):\n` + plan.problems.map((p) => `  - ${p}`).join("\n"),
    );
  }
  if (count === 0) {
    stdout.push(`nothing to promote: ${target.fileName} already matches ${source.fileName}`);
    return { exitCode: EXIT.ok, stdout, stderr: [], written: false };
  }
  if (opts.check) {
    stdout.push(`${count} promotable value(s) differ`);
    return { exitCode: EXIT.problem, stdout, stderr: [], written: false };
  }

  const next = edited(target, plan);
  if (!opts.write) {
    stdout.push(`${count} change(s); run again with --write to apply them to ${target.fileName}`);
    return { exitCode: EXIT.ok, stdout, stderr: [], written: false };
  }
  writeAtomically(target.path, next, target.text);
  stdout.push(`wrote ${target.fileName}: ${count} change(s); open a pull request with it`);
  return { exitCode: EXIT.ok, stdout, stderr: [], written: true };
}

interface Deployed {
  readonly images: Record<string, string>;
  readonly release: Release;
  /** For messages: `the outputs of stack dev` or the saved file. */
  readonly where: string;
}

/**
 * What the source stack deployed: its `images` and `release` outputs (Pulumi CLI, or
 * the saved copy). Refuses outputs without a release (an older program) and a
 * release built from a checkout with local changes.
 */
function readDeployed(opts: PromoteOptions, dir: string, stdout: string[]): Deployed {
  const src: OutputSource =
    opts.fromOutputs !== undefined
      ? { kind: "file", file: path.resolve(opts.fromOutputs) }
      : { kind: "stack", stack: opts.from, cwd: dir };
  const outputs = (opts.readOutputs ?? readOutputs)(src);
  const where = describeSource(src);
  if (outputs.release === undefined) {
    throw new RefusedError(
      `${where} have no "${OUTPUTS.release}" (the Panopticon commit and compose file ${opts.from} was deployed from; a program older than this promote does not export it): deploy ${opts.from} with this version of the program, then promote again`,
    );
  }
  const release = parseRelease(outputs.release, `${where}: ${OUTPUTS.release}`);
  const dirty = releaseRefusal(release, opts.from, where);
  if (dirty !== undefined) throw new RefusedError(dirty);
  stdout.push(`images and release from ${where}`);
  return { images: outputs.images, release, where };
}

/**
 * The source as promotion sees it: its stack file, with the release it deployed as
 * its `panopticon:release` and each service of that release pinned to the image it
 * ran. Refuses, naming the service and the reason, any image that is engine-local or
 * only a tag, and any service the outputs lack.
 */
function releasedView(deployed: Deployed, source: StackFile, target: StackFile): StackView {
  const { images, release, where } = deployed;
  const problems: string[] = [];
  const services = { ...((source.config[PROMOTABLE.servicesKey] as object) ?? {}) } as Record<
    string,
    unknown
  >;
  const layout = layoutOf(release, services, (n) => images[n] !== undefined);
  const view: StackView = {
    ...source,
    config: { ...source.config, [PROMOTABLE.releaseKey]: release },
    layout,
  };
  for (const name of layout) {
    if (skipReason(view, target, name) !== undefined) continue;
    const ref = images[name];
    if (ref === undefined) {
      problems.push(
        `${PROMOTABLE.servicesKey}.${name}: no image in ${where} (it has ${Object.keys(images).join(", ")}): expected the images of every service ${source.stack} runs`,
      );
      continue;
    }
    const why = refusal(name, ref, source.stack, where);
    if (why !== undefined) problems.push(why);
    const block = services[name];
    services[name] = { ...(block && typeof block === "object" ? block : {}), image: ref };
  }
  if (problems.length > 0) {
    throw new RefusedError(
      `${problems.length} problem(s):\n` + problems.map((p) => `  - ${p}`).join("\n"),
    );
  }
  return { ...view, config: { ...view.config, [PROMOTABLE.servicesKey]: services } };
}

/** The target's new text, re-parsed and checked against the invariant. */
function edited(target: StackFile, plan: ReturnType<typeof planPromotion>): string {
  let text: string;
  try {
    text = applyChanges(target.text, target.doc, plan.changes, {
      release: plan.release?.to,
      vanished: plan.layout?.removed ?? [],
      removedBlocks: plan.removedBlocks,
    });
  } catch (e) {
    if (e instanceof EditError) {
      throw new RefusedError(`${target.fileName}: ${e.message}`);
    }
    throw e;
  }
  const after = parseStackText(
    text,
    {
      stack: target.stack,
      fileName: target.fileName,
      path: target.path,
      label: `${displayPath(target.path)} (after promotion)`,
      baseDir: path.dirname(target.path),
      exitCode: EXIT.problem,
    },
    { inspect: checkReleaseBlock },
  );
  const envChanges = environmentChanges(target.doc.toJS(), after.doc.toJS(), {
    added: plan.newBlocks,
    removed: plan.removedBlocks,
  });
  if (envChanges.length > 0) {
    throw new RefusedError(
      `the edit would change environment-only settings of ${target.fileName}:\n` +
        envChanges.map((c) => `  - ${c}`).join("\n"),
    );
  }
  const unmet = unmetExpectations(plan, after.config);
  if (unmet.length > 0) {
    throw new RefusedError(
      `the edit of ${target.fileName} did not produce the promoted values:\n` +
        unmet.map((c) => `  - ${c}`).join("\n"),
    );
  }
  return text;
}

/**
 * Temp file in the same directory, fsync, then rename: readers see the old file
 * or the new one, never half of it. Refuses if the file changed since it was read.
 */
export function writeAtomically(file: string, text: string, expectedOld: string): void {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.promote-${process.pid}-${randomBytes(4).toString("hex")}.tmp`,
  );
  try {
    const mode = fs.statSync(file).mode & 0o777;
    const fd = fs.openSync(tmp, "wx", mode);
    try {
      fs.writeFileSync(fd, text, "utf8");
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (fs.readFileSync(file, "utf8") !== expectedOld) {
      throw new RefusedError(`${file} changed while promote was running; run it again`);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    if (e instanceof ToolError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`cannot write ${file}: ${err.code ?? err.message}`);
  }
}
