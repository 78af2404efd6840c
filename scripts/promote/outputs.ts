import { spawnSync } from "child_process";
import * as fs from "fs";
import { OUTPUTS } from "../../components/contract";
import { DIGEST, displayKey } from "./promotable";
import { EnvironmentError, PULUMI_CLI_MISSING, UsageError } from "../lib/exit-codes";

/*
 * Promotion of what ran: the images a deployed stack exports (`images`, service →
 * reference) and the release it was built from (`release`: the Panopticon commit
 * and its compose file), read from `pulumi stack output --stack <from> --json` or a
 * saved copy. Only a reference a registry can serve by digest is promotable.
 */

/** What a deployed stack exported: its images, and its release (absent from older programs). */
export interface DeployedOutputs {
  readonly images: Record<string, string>;
  /** Unchecked here: release.ts parses it. */
  readonly release?: unknown;
}

/** A Docker image id: the bytes exist only in the engine that built them. */
const ENGINE_LOCAL_ID = /^sha256:[a-f0-9]{64}$/;

export type OutputSource =
  | { readonly kind: "file"; readonly file: string }
  | { readonly kind: "stack"; readonly stack: string; readonly cwd: string };

/** Where the images came from, for messages: `dev's stack outputs` or the file name. */
export function describeSource(src: OutputSource): string {
  return src.kind === "file" ? src.file : `the outputs of stack ${src.stack}`;
}

/**
 * Parses the JSON of `pulumi stack output --json` (all outputs: `images`, `release`
 * and the rest), or of `pulumi stack output images --json` alone (which carries no
 * release). Throws a UsageError on any other shape, naming what was found.
 */
export function parseOutputs(text: string, where: string): DeployedOutputs {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(
      `${where}: not JSON (${(e as Error).message}): expected the output of pulumi stack output --json`,
    );
  }
  const isMap = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  let release: unknown;
  if (isMap(data) && isMap(data[OUTPUTS.images])) {
    release = data[OUTPUTS.release];
    data = data[OUTPUTS.images];
  }
  if (!isMap(data) || Object.keys(data).length === 0) {
    throw new UsageError(
      `${where}: ${JSON.stringify(data)?.slice(0, 80)}: expected a map of service to image reference (the stack output "images")`,
    );
  }
  const out: Record<string, string> = {};
  for (const [svc, ref] of Object.entries(data)) {
    if (typeof ref !== "string") {
      throw new UsageError(
        `${where}: images.${svc} = ${JSON.stringify(ref)}: expected an image reference string`,
      );
    }
    out[svc] = ref;
  }
  return release === undefined ? { images: out } : { images: out, release };
}

/** Runs the Pulumi CLI for a stack's outputs (or reads the saved copy). */
export function readOutputs(src: OutputSource): DeployedOutputs {
  if (src.kind === "file") {
    let text: string;
    try {
      text = fs.readFileSync(src.file, "utf8");
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new UsageError(
        `--from-outputs ${src.file}: ${err.code === "ENOENT" ? "the file does not exist" : `cannot be read (${err.code ?? err.message})`}: expected a saved copy of pulumi stack output --stack <from> --json`,
      );
    }
    return parseOutputs(text, `--from-outputs ${src.file}`);
  }
  const args = ["stack", "output", "--stack", src.stack, "--json"];
  const r = spawnSync("pulumi", args, { cwd: src.cwd, encoding: "utf8" });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new EnvironmentError(
      `${PULUMI_CLI_MISSING}; it reads stack ${src.stack}'s deployed images (or pass --from-outputs FILE)`,
    );
  }
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr || r.stdout).trim();
    throw new UsageError(
      `pulumi ${args.join(" ")} failed: ${why}: expected a deployed stack ${src.stack} (or pass --from-outputs FILE)`,
    );
  }
  return parseOutputs(r.stdout, `pulumi ${args.join(" ")}`);
}

/**
 * Why a reference from the outputs cannot be promoted, or undefined when it can:
 * an image id exists only on the engine that built it; a tag can move.
 */
export function refusal(
  service: string,
  ref: string,
  from: string,
  where: string,
): string | undefined {
  const at = `${displayKey(service, "image")}: ${JSON.stringify(ref)} in ${where}`;
  if (ENGINE_LOCAL_ID.test(ref)) {
    return `${at}: exists only on the Docker engine that built it (a local build, never pushed): set panopticon:registry on ${from} so its builds are pushed, deploy it, and promote again`;
  }
  if (!DIGEST.test(ref) || ref.startsWith("sha256:")) {
    return `${at}: is only a tag, which can move after testing: pin it by digest in ${from} (<image>@sha256:<64 hex digits>) or build it with a registry`;
  }
  return undefined;
}
