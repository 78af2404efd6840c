/*
 * The exit codes of every tool (npm run backup/restore/purge/status/doctor/pg-upgrade/
 * backup:before-change/guard/promote/bench, scripts/deploy.sh), documented once in
 * README ("Exit codes"). Each tool ends through these, never a bare number.
 */
export const EXIT = {
  /** Done; nothing wrong found. */
  ok: 0,
  /** Found a problem (data at risk, a check that differs, a failed step), or refused to act. */
  problem: 1,
  /** Bad arguments or an unusable stack file: nothing was touched. */
  usage: 2,
  /** The environment lacks what the tool needs: no Docker engine, no Pulumi CLI, an AWS stack given to a local tool. */
  environment: 3,
} as const;

/** Interrupted by a signal (state put back first): the shell's 128 + signal number. */
export const EXIT_SIGNAL = { SIGINT: 130, SIGTERM: 143 } as const;

/** Bad input (arguments, stack files): nothing was touched. Exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A safety rule said no: nothing was touched. Exit 1. */
export class RefusedError extends Error {
  override name = "RefusedError";
}

/** Something the tool needs is missing from this machine or this stack: exit 3. */
export class EnvironmentError extends Error {
  override name = "EnvironmentError";
}

/** The one line a tool prints when the Pulumi CLI is missing (scripts/deploy.sh prints the same). */
export const PULUMI_CLI_MISSING =
  "the Pulumi CLI is required (pulumi not found on PATH): install it with 'curl -fsSL https://get.pulumi.com | sh', see https://www.pulumi.com/docs/install/";
