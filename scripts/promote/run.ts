import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { environmentChanges, unmetExpectations } from "./invariant";
import { describeSource, OutputSource, readImagesOutput, refusal } from "./outputs";
import { formatPlan, planPromotion, skipReason, StackView } from "./plan";
import { PROMOTABLE } from "./promotable";
import {
  checkStackName,
  EXIT,
  loadStackFile,
  parseStackText,
  PromoteError,
  StackFile,
} from "./stack-file";
import { applyChanges, EditError } from "./yaml-edit";

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
   * A saved `pulumi stack output images --json` of the source stack. @default when the
   * source builds images (panopticon:appSource): its deployed outputs, read with the
   * Pulumi CLI; otherwise the images its stack file pins (file-to-file)
   */
  readonly fromOutputs?: string;
  /** Reads a stack's `images` output (tests replace the Pulumi CLI). @default readImagesOutput */
  readonly readOutputs?: (src: OutputSource) => Record<string, string>;
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
    if (e instanceof PromoteError && e.exitCode === EXIT.environment) {
      // One line, as scripts/deploy.sh says it: what is missing and how to get it.
      return { exitCode: e.exitCode, stdout, stderr: [`promote: ${e.message}`], written: false };
    }
    if (e instanceof PromoteError) {
      const label = e.exitCode === EXIT.refused ? "refused" : "error";
      return {
        exitCode: e.exitCode,
        stdout,
        stderr: [`promote: ${label}: ${e.message}`, "nothing was written"],
        written: false,
      };
    }
    throw e;
  }
}

function run(opts: PromoteOptions, stdout: string[]): PromoteResult {
  if (opts.write && opts.check) {
    throw new PromoteError(EXIT.badInput, "--write and --check: expected at most one of them");
  }
  checkStackName("--from", opts.from);
  checkStackName("--to", opts.to);
  if (opts.from === opts.to) {
    throw new PromoteError(
      EXIT.badInput,
      `--from ${opts.from} --to ${opts.to}: expected two different stacks (promotion copies one stack's release into another)`,
    );
  }
  const dir = path.resolve(opts.dir);
  const source = loadStackFile(dir, opts.from, "--from");
  const target = loadStackFile(dir, opts.to, "--to");
  if (fs.realpathSync(source.path) === fs.realpathSync(target.path)) {
    throw new PromoteError(
      EXIT.badInput,
      `${source.fileName} and ${target.fileName} are the same file: expected two different stacks`,
    );
  }

  const released = releasedView(opts, dir, source, target, stdout);
  const plan = planPromotion(released, target);
  stdout.push(...formatPlan(plan, source, target));
  if (plan.problems.length > 0) {
    throw new PromoteError(
      EXIT.refused,
      `${plan.problems.length} problem(s):\n` + plan.problems.map((p) => `  - ${p}`).join("\n"),
    );
  }
  if (plan.changes.length === 0) {
    stdout.push(`nothing to promote: ${target.fileName} already matches ${source.fileName}`);
    return { exitCode: EXIT.ok, stdout, stderr: [], written: false };
  }
  if (opts.check) {
    stdout.push(`${plan.changes.length} promotable value(s) differ`);
    return { exitCode: EXIT.differs, stdout, stderr: [], written: false };
  }

  const next = edited(target, plan);
  if (!opts.write) {
    stdout.push(
      `${plan.changes.length} change(s); run again with --write to apply them to ${target.fileName}`,
    );
    return { exitCode: EXIT.ok, stdout, stderr: [], written: false };
  }
  writeAtomically(target.path, next, target.text);
  stdout.push(
    `wrote ${target.fileName}: ${plan.changes.length} change(s); open a pull request with it`,
  );
  return { exitCode: EXIT.ok, stdout, stderr: [], written: true };
}

/**
 * The source as promotion sees it: its stack file, with each service's image
 * replaced by what the deployed stack ran when it builds images (or when a saved
 * copy of its outputs is given). Refuses, naming the service and the reason, any
 * image that is engine-local or only a tag, and any service the outputs lack.
 */
function releasedView(
  opts: PromoteOptions,
  dir: string,
  source: StackFile,
  target: StackFile,
  stdout: string[],
): StackView {
  const builds = source.settings.images.services.some((s) => s.from === "build");
  if (opts.fromOutputs === undefined && !builds) return source;
  const src: OutputSource =
    opts.fromOutputs !== undefined
      ? { kind: "file", file: path.resolve(opts.fromOutputs) }
      : { kind: "stack", stack: source.stack, cwd: dir };
  const images = (opts.readOutputs ?? readImagesOutput)(src);
  const where = describeSource(src);
  stdout.push(`images from ${where}`);
  const problems: string[] = [];
  const services = { ...((source.config[PROMOTABLE.servicesKey] as object) ?? {}) } as Record<
    string,
    unknown
  >;
  for (const svc of source.settings.services) {
    if (skipReason(source, target, svc.name) !== undefined) continue;
    const ref = images[svc.name];
    if (ref === undefined) {
      problems.push(
        `${PROMOTABLE.servicesKey}.${svc.name}: no image in ${where} (it has ${Object.keys(images).join(", ")}): expected the images of every service ${source.stack} runs`,
      );
      continue;
    }
    const why = refusal(svc.name, ref, source.stack, where);
    if (why !== undefined) problems.push(why);
    const block = services[svc.name];
    services[svc.name] = { ...(block && typeof block === "object" ? block : {}), image: ref };
  }
  if (problems.length > 0) {
    throw new PromoteError(
      EXIT.refused,
      `${problems.length} problem(s):\n` + problems.map((p) => `  - ${p}`).join("\n"),
    );
  }
  return { ...source, config: { ...source.config, [PROMOTABLE.servicesKey]: services } };
}

/** The target's new text, re-parsed and checked against the invariant. */
function edited(target: StackFile, plan: ReturnType<typeof planPromotion>): string {
  let text: string;
  try {
    text = applyChanges(target.text, target.doc, plan.changes);
  } catch (e) {
    if (e instanceof EditError) {
      throw new PromoteError(EXIT.refused, `${target.fileName}: ${e.message}`);
    }
    throw e;
  }
  const after = parseStackText(text, {
    stack: target.stack,
    fileName: `${target.fileName} (after promotion)`,
    path: target.path,
    baseDir: path.dirname(target.path),
    exitCode: EXIT.refused,
  });
  const envChanges = environmentChanges(target.doc.toJS(), after.doc.toJS());
  if (envChanges.length > 0) {
    throw new PromoteError(
      EXIT.refused,
      `the edit would change environment-only settings of ${target.fileName}:\n` +
        envChanges.map((c) => `  - ${c}`).join("\n"),
    );
  }
  const unmet = unmetExpectations(plan, after.config);
  if (unmet.length > 0) {
    throw new PromoteError(
      EXIT.refused,
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
      throw new PromoteError(
        EXIT.refused,
        `${file} changed while promote was running; run it again`,
      );
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    if (e instanceof PromoteError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new PromoteError(EXIT.badInput, `cannot write ${file}: ${err.code ?? err.message}`);
  }
}
