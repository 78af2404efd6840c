import type { ServiceSettings } from "./stack-services";
import { EcsSettings, ScalingSettings } from "./ecs";
import { cycleProblem, Dependant, startOrder } from "./start-order";
import { fargateSize, FargateSize } from "./fargate-size";

/*
 * What the ECS runtime deploys, resolved from the service catalogue and the
 * `aws.ecs` block. Pure and run inside parseSettings, so a bad combination (an
 * unknown service in a rule, a single writer asked to scale, min > max) fails before
 * any resource is registered, naming the key, the value and what was expected.
 */

const KEY = "panopticon:aws.ecs";

/** The fields of one catalogue service the ECS runtime reads. */
export interface EcsServiceInput {
  readonly name: string;
  readonly image?: string;
  readonly port: number;
  /** Plain environment, sorted (inter-service URLs already resolved). */
  readonly env: ReadonlyArray<readonly [string, string]>;
  /** Names of the variables whose values are secrets. */
  readonly secretEnv: readonly string[];
  /** Receives POSTGRES_* and DATABASE_URL. */
  readonly database: boolean;
  /** Services this one calls. */
  readonly connectsTo: readonly string[];
  /** Start order (compose depends_on). */
  readonly dependsOn: readonly string[];
  readonly healthcheck: {
    readonly test: readonly string[];
    readonly intervalSeconds: number;
    readonly timeoutSeconds: number;
    readonly retries: number;
    readonly startPeriodSeconds: number;
  };
  readonly limits: { readonly cpus: number; readonly memoryMb: number };
  /** Overrides the image's command. @default the image's */
  readonly command?: readonly string[];
  readonly dataSet?: {
    readonly key: string;
    readonly mountPath: string;
    readonly uid: number;
    readonly gid: number;
    readonly backend: string;
  };
}

export interface EcsFileData {
  readonly key: string;
  readonly mountPath: string;
  readonly uid: number;
  readonly gid: number;
}

export interface EcsServicePlan {
  readonly name: string;
  /** Digest-pinned image reference. */
  readonly image: string;
  readonly port: number;
  /** Plain environment, sorted, with `*_STORAGE_TYPE` set to the ECS storage type. */
  readonly env: ReadonlyArray<readonly [string, string]>;
  readonly secretEnv: readonly string[];
  readonly database: boolean;
  /** ECS services this one starts after (created once those are steady). */
  readonly dependsOn: readonly string[];
  /** Services whose tasks may reach this one on its port, sorted. */
  readonly callers: readonly string[];
  readonly healthcheck: EcsServiceInput["healthcheck"];
  readonly command?: readonly string[];
  readonly size: FargateSize;
  /** HTTPS port of its listener on the internal load balancer. @default not load balanced */
  readonly listenerPort?: number;
  /** File data on EFS: the service is then a single writer. */
  readonly fileData?: EcsFileData;
  /** Target tracking for stateless services; undefined for a single writer. */
  readonly scaling?: ScalingSettings;
}

export interface EcsPlan {
  readonly settings: EcsSettings;
  /** Sorted by name. */
  readonly services: readonly EcsServicePlan[];
  /** Service names, each after the ones it depends on. */
  readonly startOrder: readonly string[];
}

/** Names in start order (dependencies first, then by name); a cycle is a problem. */
export function topologicalOrder(services: readonly Dependant[], problems: string[]): string[] {
  const { order, cycle } = startOrder(services);
  if (cycle) problems.push(cycleProblem(cycle));
  return [...order];
}

/** Hard memory limit of the one-shot container that enables pgvector. */
export const PGVECTOR_INIT_MEMORY_MB = 128;

const DIGEST = /@sha256:[a-f0-9]{64}$/;
const STORAGE_TYPE = /_STORAGE_TYPE$/;

function show(v: unknown): string {
  return JSON.stringify(v);
}

/** ECS health check limits (seconds, except retries). */
const HEALTH_LIMITS: Record<string, [string, number, number]> = {
  intervalSeconds: ["interval", 5, 300],
  timeoutSeconds: ["timeout", 2, 60],
  retries: ["retries", 1, 10],
  startPeriodSeconds: ["startPeriod", 0, 300],
};

/** Services the `aws.ecs` rules name must exist; two listeners cannot share a port. */
function ruleProblems(ecs: EcsSettings, names: ReadonlySet<string>, problems: string[]): void {
  const known = [...names].sort().join(", ");
  const unknown = (key: string, name: string) => {
    if (!names.has(name)) {
      problems.push(`${KEY}.${key} = ${show(name)}: no such service (known: ${known})`);
    }
  };
  for (const [target, callers] of Object.entries(ecs.allow)) {
    unknown(`allow.${target}`, target);
    callers.forEach((c, i) => unknown(`allow.${target}[${i}]`, c));
  }
  for (const name of Object.keys(ecs.loadBalanced)) unknown(`loadBalanced.${name}`, name);
  for (const name of Object.keys(ecs.autoscaling.services))
    unknown(`autoscaling.services.${name}`, name);
  const ports = Object.entries(ecs.loadBalanced);
  for (const [name, port] of ports) {
    const other = ports.find(([n, p]) => p === port && n < name);
    if (other) {
      problems.push(
        `${KEY}.loadBalanced.${name} = ${port}: the listener port is already used by ${other[0]}: expected a different port`,
      );
    }
  }
}

/** Per service, who may call it: the services whose URL variables name it, and `aws.ecs.allow`. */
function callersOf(
  services: readonly EcsServiceInput[],
  ecs: EcsSettings,
  names: ReadonlySet<string>,
): Map<string, Set<string>> {
  const callers = new Map<string, Set<string>>();
  const add = (target: string, caller: string) => {
    if (!callers.has(target)) callers.set(target, new Set());
    callers.get(target)!.add(caller);
  };
  for (const s of services) {
    // postgres is not among `names`: it is reached through RDS's own rule.
    s.connectsTo.filter((t) => names.has(t)).forEach((t) => add(t, s.name));
  }
  for (const [target, allowed] of Object.entries(ecs.allow)) {
    if (!callers.has(target)) callers.set(target, new Set());
    allowed.filter((c) => names.has(c)).forEach((c) => add(target, c));
  }
  return callers;
}

/** What ECS itself refuses in a service: an image not pinned by digest, health timings out of range. */
function serviceProblems(s: EcsServiceInput, problems: string[]): void {
  const svcKey = `panopticon:services.${s.name}`;
  if (s.image === undefined || !DIGEST.test(s.image)) {
    problems.push(
      `${svcKey}.image = ${s.image === undefined ? "(missing)" : show(s.image)}: the ECS runtime runs images by digest: expected <repository>@sha256:<64 hex digits>`,
    );
  }
  for (const [field, [ecsName, min, max]] of Object.entries(HEALTH_LIMITS)) {
    const v = s.healthcheck[field as keyof EcsServiceInput["healthcheck"]] as number;
    if (!(v >= min && v <= max)) {
      problems.push(
        `${svcKey}.healthcheck.${field} = ${show(v)}: ECS health check ${ecsName} must be between ${min} and ${max}`,
      );
    }
  }
}

/**
 * The service's files on EFS, if it keeps any: a service with a data set keeps files
 * unless its storage type moves it to Postgres. On Fargate only EFS persists them, and
 * a service on files is a single writer.
 */
function fileDataOf(
  s: EcsServiceInput,
  ecs: EcsSettings,
  problems: string[],
): EcsFileData | undefined {
  const hasStorageType = s.env.some(([k]) => STORAGE_TYPE.test(k));
  const ds = s.dataSet;
  if (ds === undefined || (hasStorageType && ecs.storageType !== "chroma")) return undefined;
  if (ds.backend !== "efs") {
    problems.push(
      `panopticon:aws.storage.${ds.key} = ${show(ds.backend)}: ${s.name} keeps files, and on Fargate only EFS persists them: expected "efs"`,
    );
  }
  const configured = ecs.autoscaling.services[s.name];
  if (configured !== undefined && configured.max > 1) {
    problems.push(
      `${KEY}.autoscaling.services.${s.name}.max = ${configured.max}: ${s.name} writes files on EFS (data set ${ds.key}) and must run as one task: expected max 1, or remove the entry`,
    );
  }
  const { key, mountPath, uid, gid } = ds;
  return { key, mountPath, uid, gid };
}

/** The Fargate task size that holds the service (and the pgvector initialiser beside it). */
function taskSize(s: EcsServiceInput, problems: string[]): FargateSize | undefined {
  try {
    // The pgvector initialiser shares the task's memory with the service.
    const base = fargateSize(
      s.limits.cpus,
      s.limits.memoryMb + (s.database ? PGVECTOR_INIT_MEMORY_MB : 0),
    );
    return { ...base, memoryMb: s.limits.memoryMb };
  } catch (e) {
    problems.push(
      `panopticon:services.${s.name}.limits = ${show(s.limits)}: ${(e as Error).message}`,
    );
    return undefined;
  }
}

/**
 * Resolves the ECS deployment of `services` (postgres is not among them: RDS replaces
 * it). Returns the plan, or the problems found; never throws on bad config.
 */
export function planEcs(
  services: readonly EcsServiceInput[],
  ecs: EcsSettings,
): { plan?: EcsPlan; problems: string[] } {
  const problems: string[] = [];
  const names = new Set(services.map((s) => s.name));
  ruleProblems(ecs, names, problems);
  const callers = callersOf(services, ecs, names);
  const planned: EcsServicePlan[] = [];
  for (const s of [...services].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    serviceProblems(s, problems);
    const fileData = fileDataOf(s, ecs, problems);
    const size = taskSize(s, problems);
    if (size === undefined) continue;
    planned.push({
      name: s.name,
      image: s.image ?? "",
      port: s.port,
      env: s.env.map(([k, v]) => [k, STORAGE_TYPE.test(k) ? ecs.storageType : v] as const),
      secretEnv: [...s.secretEnv].sort(),
      database: s.database,
      dependsOn: s.dependsOn.filter((d) => names.has(d)),
      callers: [...(callers.get(s.name) ?? [])].sort(),
      healthcheck: s.healthcheck,
      command: s.command,
      size,
      listenerPort: ecs.loadBalanced[s.name],
      fileData,
      scaling:
        fileData === undefined
          ? (ecs.autoscaling.services[s.name] ?? ecs.autoscaling.default)
          : undefined,
    });
  }
  const startOrder = topologicalOrder(planned, problems);
  if (problems.length > 0) return { problems };
  return { plan: { settings: ecs, services: planned, startOrder }, problems };
}

/** The ECS view of a resolved catalogue service. */
export function ecsServiceInput(s: ServiceSettings): EcsServiceInput {
  return {
    name: s.name,
    image: s.image,
    port: s.port,
    env: s.env,
    secretEnv: s.secretEnv,
    database: s.database,
    connectsTo: s.connectsTo,
    dependsOn: s.dependsOn,
    healthcheck: s.healthcheck,
    limits: s.limits,
    command: s.command,
    dataSet: s.dataSet,
  };
}
