import { containerName, PROJECT } from "./naming";
import { DataSetSettings, dataSetOf, Placement } from "./data-sets";
import { dupes, show } from "./problems";
import { badMountPath } from "./safety";
import type { ResolvedService } from "./services";

/*
 * The resolved services of one stack, each with its physical name and its data set on
 * the stack's backend, and the rules that hold across services: one database, one
 * service per published port.
 */

/** A resolved service (components/config/services.ts) with its physical name and storage. */
export interface ServiceSettings extends Omit<ResolvedService, "data"> {
  readonly containerName: string;
  readonly dataSet?: DataSetSettings;
}

export interface StackServices {
  /** On AWS without the postgres container (RDS replaces it). */
  readonly services: ServiceSettings[];
  /** The data sets of `services`, in service order. */
  readonly dataSets: DataSetSettings[];
}

/** Places every service and its data set on the stack; a mount that hides the image is a problem. */
export function stackServices(
  resolved: readonly ResolvedService[],
  placement: Placement,
  problems: string[],
): StackServices {
  const services: ServiceSettings[] = [];
  const dataSets: DataSetSettings[] = [];
  for (const svc of resolved) {
    const { data, ...rest } = svc;
    const dataSet = data === undefined ? undefined : dataSetOf(svc.name, data, placement);
    const mountProblem = data === undefined ? undefined : badMountPath(data.path);
    if (mountProblem !== undefined) {
      problems.push(
        `${PROJECT}:services.${svc.name}.data.path = ${show(data!.path)}: ${mountProblem}: expected a directory of the service's own, e.g. /app/data`,
      );
    }
    if (placement.environment === "aws" && svc.kind === "postgres") continue; // RDS replaces the container
    // A service without an image is built from panopticon:appSource (resolveImages).
    if (dataSet) dataSets.push(dataSet);
    const physical = containerName(placement.project, placement.stack, svc.name);
    services.push({ ...rest, containerName: physical, dataSet });
  }
  return { services, dataSets };
}

/** A local stack runs exactly one database container. */
export function postgresCountProblems(
  environment: string,
  services: readonly ServiceSettings[],
): string[] {
  const count = services.filter((s) => s.kind === "postgres").length;
  return environment === "local" && count !== 1
    ? [`${PROJECT}:services: ${count} services have kind "postgres": expected exactly one`]
    : [];
}

/** Two services cannot publish the same host port. */
export function publishedPortProblems(services: readonly ServiceSettings[], problems: string[]) {
  dupes(
    services.filter((s) => s.hostPort !== false),
    (s) => String(s.hostPort),
    "published port",
    problems,
    (s) => `${PROJECT}:services.${s.name}.hostPort`,
  );
}
