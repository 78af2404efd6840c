/*
 * The exit codes of every tool (npm run backup/restore/purge/status/doctor/pg-upgrade/
 * backup:before-change/migrate-data/guard/promote/bench/bench:data/bench:migrate,
 * scripts/deploy.sh), documented once in docs/exit-codes.md. Each tool ends through
 * these names, never a bare number and never a name of its own.
 */
export const EXIT = {
  /** Done; nothing wrong found (the guard: no data at risk). */
  ok: 0,
  /**
   * Found a problem (data at risk, `promote --check` differs, a failed step or check),
   * or refused to act.
   */
  problem: 1,
  /** Bad arguments or an unusable input file (stack file, preview, outputs): nothing was touched. */
  usage: 2,
  /** The environment lacks what the tool needs: no Docker engine, no Pulumi CLI, an AWS stack given to a local tool. */
  environment: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Interrupted by a signal (state put back first): the shell's 128 + signal number. */
export const EXIT_SIGNAL = { SIGINT: 130, SIGTERM: 143 } as const;

/** An error that ends a tool with its exit code and a message meant for the user. */
export abstract class ToolError extends Error {
  abstract readonly exitCode: ExitCode;
  /** The word a tool prints before the message: "error", "refused", "missing" or "failed". */
  abstract readonly kind: string;
}

/** Bad input (arguments, stack files, input files): nothing was touched. Exit 2. */
export class UsageError extends ToolError {
  override name = "UsageError";
  readonly exitCode = EXIT.usage;
  readonly kind = "error";
}

/** A safety rule said no: nothing was touched. Exit 1. */
export class RefusedError extends ToolError {
  override name = "RefusedError";
  readonly exitCode = EXIT.problem;
  readonly kind = "refused";
}

/** Something the tool needs is missing from this machine or this stack: exit 3. */
export class EnvironmentError extends ToolError {
  override name = "EnvironmentError";
  readonly exitCode = EXIT.environment;
  readonly kind = "missing";
}

/**
 * The error for a code decided by the caller: one stack file is bad input when the user
 * names it and a refusal when promote finds it after its own edit.
 */
export function toolError(
  code: typeof EXIT.problem | typeof EXIT.usage,
  message: string,
): ToolError {
  return code === EXIT.usage ? new UsageError(message) : new RefusedError(message);
}

/** The exit code an error ends a tool with: its own, or 1 for anything unforeseen. */
export function exitCodeOf(e: unknown): ExitCode {
  return e instanceof ToolError ? e.exitCode : EXIT.problem;
}

/** The one line a tool prints when the Pulumi CLI is missing (scripts/deploy.sh prints the same). */
export const PULUMI_CLI_MISSING =
  "the Pulumi CLI is required (pulumi not found on PATH): install it with 'curl -fsSL https://get.pulumi.com | sh', see https://www.pulumi.com/docs/install/";
