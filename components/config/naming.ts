import * as path from "path";

/**
 * A service name: a DNS label, since the other services reach it by this host name
 * (`http://<name>:<port>`). Compose's reader, `panopticon:services` and `aws.ecs` use it.
 */
export const SERVICE_NAME = /^[a-z][a-z0-9-]{0,40}[a-z0-9]$/;
/** What SERVICE_NAME asks for, in a problem's words. */
export const SERVICE_NAME_HINT = "expected a service name: lower case letters, digits and -";

/** The Pulumi project name; also the first segment of every physical name. */
export const PROJECT = "panopticon";

/** The config namespace of this project (`panopticon:<key>` in stack files). */
export const CONFIG_NAMESPACE = PROJECT;

/** The component type tokens, defined with the other contracts (components/contract.ts). */
export { COMPONENT_TYPES as TYPES } from "../contract";

/**
 * Physical names always include the stack, so that dev and prod on one Docker
 * host (or one AWS account) never share a volume, container or instance.
 */
export function physicalName(project: string, stack: string, ...parts: string[]): string {
  return [project, stack, ...parts].join("-");
}

/** Docker volume names may not contain `_` in our scheme; data-set keys may. */
export function kebab(s: string): string {
  return s.replace(/_/g, "-");
}

/** The stack-scoped Docker volume name of one data set, e.g. `panopticon-dev-judge-data`. */
export function volumeName(project: string, stack: string, dataSet: string): string {
  return physicalName(project, stack, kebab(dataSet), "data");
}

/**
 * The compose era's external volume of one data set (DB_PERSISTENCE.md), e.g.
 * `panopticon_query_data`: what `adoptComposeVolumes` mounts.
 */
export function composeVolumeName(dataSet: string): string {
  return `panopticon_${dataSet}_data`;
}

/** The stack-scoped container name of one service, e.g. `panopticon-dev-postgres`. */
export function containerName(project: string, stack: string, service: string): string {
  return physicalName(project, stack, service);
}

/** The stack-scoped Docker network name. */
export function networkName(project: string, stack: string): string {
  return physicalName(project, stack, "net");
}

/** The absolute host directory of one data set in bind mode (`<dataDir>/<bindDir>`). */
export function bindPath(baseDir: string, dataDir: string, bindDir: string): string {
  return path.resolve(baseDir, dataDir, bindDir);
}

/** The directory of one data set on the stack's file system, e.g. `/prod/model_registry`. */
export function efsDataSetPath(stack: string, dataSet: string): `/${string}` {
  return `/${stack}/${dataSet}`;
}

/** Where the Docker host mounts its EBS data disk unless `aws.dataMountPath` says otherwise. */
export const DEFAULT_DATA_MOUNT_PATH = "/mnt/panopticon-data";

/** The directory of one data set on the EBS disk, e.g. `/mnt/panopticon-data/prod/judge_service`. */
export function ebsDataSetPath(mountPath: string, stack: string, bindDir: string): string {
  return `${mountPath}/${stack}/${bindDir}`;
}
