import type { Environment } from "../protection";
import { rdsIdentifier } from "./aws";
import type { RawSettings } from "./config-schema";
import type { StorageMode } from "./data-sets";
import { PROJECT } from "./naming";
import { show } from "./problems";
import { safetyProblems } from "./safety";

/*
 * Keys that are each valid alone but not together (an aws block on a local stack, a
 * storageMode on AWS), and values that validate but would do damage
 * (components/config/safety.ts). Run before the services are read.
 */

/** The scalar settings the other checks depend on, defaults applied. */
export interface Scope {
  readonly environment: Environment;
  readonly storageMode: StorageMode;
  readonly dataDir: string;
}

export interface ScopeContext {
  readonly project: string;
  readonly stack: string;
  readonly baseDir: string;
  readonly emptySecrets?: readonly string[];
}

/** Keys that contradict the environment (local or aws) or the storage mode. */
function environmentProblems(r: RawSettings, scope: Scope): string[] {
  const { environment, storageMode } = scope;
  const problems: string[] = [];
  if (environment === "aws" && r.protect === false) {
    problems.push(
      `${PROJECT}:protect = false: AWS stacks always protect stateful resources; remove the key`,
    );
  }
  if (environment === "aws" && r.aws === undefined) {
    problems.push(`${PROJECT}:aws = (missing): expected the aws settings for environment "aws"`);
  }
  if (environment === "local" && r.aws !== undefined) {
    problems.push(
      `${PROJECT}:aws is set but ${PROJECT}:environment = "local": set environment to "aws" or remove the aws block`,
    );
  }
  if (environment === "aws" && r.storageMode !== undefined) {
    problems.push(
      `${PROJECT}:storageMode = ${show(r.storageMode)}: applies to local stacks only; on AWS choose per data set in ${PROJECT}:aws.storage`,
    );
  }
  if (storageMode === "bind" && r.volumeNames !== undefined) {
    problems.push(
      `${PROJECT}:volumeNames = ${show(r.volumeNames)}: applies to storageMode "volume" only; in bind mode point ${PROJECT}:dataDir at the existing directories`,
    );
  }
  return problems;
}

/** Every cross-key and safety problem of a schema-valid config, in the order they are reported. */
export function crossKeyProblems(
  raw: Record<string, unknown>,
  r: RawSettings,
  scope: Scope,
  ctx: ScopeContext,
): string[] {
  const problems = environmentProblems(r, scope);
  problems.push(
    ...safetyProblems(raw, {
      ...scope,
      baseDir: ctx.baseDir,
      dataMountPath: r.aws?.dataMountPath,
      initImage: r.initImage,
      services: r.services,
      emptySecrets: ctx.emptySecrets ?? [],
    }),
  );
  const adoptRds = r.aws?.adopt.rdsInstanceIdentifier;
  const own = rdsIdentifier(ctx.project, ctx.stack);
  if (adoptRds !== undefined && adoptRds !== own) {
    problems.push(
      `${PROJECT}:aws.adopt.rdsInstanceIdentifier = ${show(adoptRds)}: expected this stack's instance "${own}" (importing another identifier would plan its replacement)`,
    );
  }
  return problems;
}
