import type { ServiceSettings } from "./settings";
import { EcsSettings, ScalingSettings } from "./ecs";
import { fargateSize, FargateSize } from "../runtime/ecs/fargate";

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
export function topologicalOrder(
  services: readonly { name: string; dependsOn: readonly string[] }[],
  problems: string[],
): string[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      problems.push(
        `panopticon:services: start order has a cycle (${[...path, name].join(" -> ")}): expected depends_on without cycles`,
      );
      return;
    }
    state.set(name, "visiting");
    for (const d of byName.get(name)?.dependsOn ?? []) visit(d, [...path, name]);
    state.set(name, "done");
    order.push(name);
  };
  [...byName.keys()].sort().forEach((n) => visit(n, []));
  return order;
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
  const known = [...names].sort().join(", ");
  const unknown = (key: string, name: string) => {
    if (!names.has(name)) {
      problems.push(`${KEY}.${key} = ${show(name)}: no such service (known: ${known})`);
      return true;
    }
    return false;
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

  const callersOf = new Map<string, Set<string>>();
  for (const s of services) {
    for (const target of s.connectsTo) {
      if (!names.has(target)) continue; // postgres: reached through RDS's own rule
      if (!callersOf.has(target)) callersOf.set(target, new Set());
      callersOf.get(target)!.add(s.name);
    }
  }
  for (const [target, callers] of Object.entries(ecs.allow)) {
    if (!callersOf.has(target)) callersOf.set(target, new Set());
    callers.filter((c) => names.has(c)).forEach((c) => callersOf.get(target)!.add(c));
  }

  const planned: EcsServicePlan[] = [];
  for (const s of [...services].sort((a, b) => (a.name < b.name ? -1 : 1))) {
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
    const hasStorageType = s.env.some(([k]) => STORAGE_TYPE.test(k));
    const env = s.env.map(([k, v]) => [k, STORAGE_TYPE.test(k) ? ecs.storageType : v] as const);
    const onFiles = s.dataSet !== undefined && (!hasStorageType || ecs.storageType === "chroma");
    let fileData: EcsFileData | undefined;
    if (onFiles && s.dataSet !== undefined) {
      const ds = s.dataSet;
      if (ds.backend !== "efs") {
        problems.push(
          `panopticon:aws.storage.${ds.key} = ${show(ds.backend)}: ${s.name} keeps files, and on Fargate only EFS persists them: expected "efs"`,
        );
      }
      fileData = {
        key: ds.key,
        mountPath: ds.mountPath,
        uid: ds.uid,
        gid: ds.gid,
      };
    }
    const configured = ecs.autoscaling.services[s.name];
    if (fileData !== undefined && configured !== undefined && configured.max > 1) {
      problems.push(
        `${KEY}.autoscaling.services.${s.name}.max = ${configured.max}: ${s.name} writes files on EFS (data set ${fileData.key}) and must run as one task: expected max 1, or remove the entry`,
      );
    }
    let size: FargateSize;
    try {
      // The pgvector initialiser shares the task's memory with the service.
      const base = fargateSize(
        s.limits.cpus,
        s.limits.memoryMb + (s.database ? PGVECTOR_INIT_MEMORY_MB : 0),
      );
      size = { ...base, memoryMb: s.limits.memoryMb };
    } catch (e) {
      problems.push(`${svcKey}.limits = ${show(s.limits)}: ${(e as Error).message}`);
      continue;
    }
    planned.push({
      name: s.name,
      image: s.image ?? "",
      port: s.port,
      env,
      secretEnv: [...s.secretEnv].sort(),
      database: s.database,
      dependsOn: s.dependsOn.filter((d) => names.has(d)),
      callers: [...(callersOf.get(s.name) ?? [])].sort(),
      healthcheck: s.healthcheck,
      command: s.command,
      size,
      listenerPort: ecs.loadBalanced[s.name],
      fileData,
      scaling: fileData === undefined ? (configured ?? ecs.autoscaling.default) : undefined,
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
