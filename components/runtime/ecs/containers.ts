import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { EcsServicePlan, PGVECTOR_INIT_MEMORY_MB } from "../../config/ecs-plan";

/** Name of the one-shot container that enables pgvector before a service starts. */
export const PGVECTOR_INIT = "pgvector";

/** The SQL the one-shot container runs: idempotent, so every task start may run it. */
export const PGVECTOR_SQL = "CREATE EXTENSION IF NOT EXISTS vector";

export interface TaskContainersArgs {
  readonly plan: EcsServicePlan;
  readonly region: string;
  readonly logGroupName: pulumi.Input<string>;
  readonly secretArns: Readonly<Record<string, pulumi.Input<string>>>;
  readonly database?: {
    readonly host: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    readonly user: string;
    readonly name: string;
    readonly passwordFrom: pulumi.Input<string>;
    readonly urlFrom: pulumi.Input<string>;
    readonly psqlImage: string;
  };
  readonly stopTimeoutSeconds: number;
  /** Where the service's data set is mounted (the task definition owns its volume). @default none */
  readonly mountPoints?: aws.ecs.MountPoint[];
}

/** Names are plain strings here, so the lists can be sorted (a stable order: no diffs). */
type Pair = aws.ecs.KeyValuePair & { name: string };
type Secret = aws.ecs.Secret & { name: string };

/**
 * The container definitions of one service's task. Plain settings go to
 * `environment`; every secret (API keys, the database password and the URL that
 * embeds it) goes to `secrets` as a Secrets Manager reference, so no value is in the
 * task definition. A secret variable with no configured value is left unset (the
 * services read unset and empty alike). A service that uses the database first runs
 * a one-shot container that enables pgvector; the service starts when it succeeded.
 */
export function taskContainers(args: TaskContainersArgs): aws.ecs.ContainerDefinition[] {
  const p = args.plan;
  const d = args.database;
  const log = (prefix: string): aws.ecs.LogConfiguration => ({
    logDriver: "awslogs",
    options: {
      "awslogs-group": args.logGroupName,
      "awslogs-region": args.region,
      "awslogs-stream-prefix": prefix,
    },
  });
  const environment: Pair[] = p.env.map(([name, value]) => ({ name, value }));
  const secrets: Secret[] = p.secretEnv
    .filter((e) => args.secretArns[e] !== undefined)
    .map((e) => ({ name: e, valueFrom: args.secretArns[e] }));
  if (d !== undefined) {
    environment.push(
      { name: "POSTGRES_DB", value: d.name },
      { name: "POSTGRES_HOST", value: d.host },
      { name: "POSTGRES_PORT", value: pulumi.output(d.port).apply(String) },
      { name: "POSTGRES_USER", value: d.user },
    );
    secrets.push(
      { name: "DATABASE_URL", valueFrom: d.urlFrom },
      { name: "POSTGRES_PASSWORD", valueFrom: d.passwordFrom },
    );
  }
  environment.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  secrets.sort((a, b) => (a.name < b.name ? -1 : 1));

  const app: aws.ecs.ContainerDefinition = {
    name: p.name,
    image: p.image,
    essential: true,
    ...(p.command !== undefined ? { command: [...p.command] } : {}),
    cpu: p.size.cpu,
    memory: p.size.memoryMb,
    portMappings: [{ name: "http", containerPort: p.port, protocol: "tcp", appProtocol: "http" }],
    environment,
    secrets,
    healthCheck: {
      command: [...p.healthcheck.test],
      interval: p.healthcheck.intervalSeconds,
      timeout: p.healthcheck.timeoutSeconds,
      retries: p.healthcheck.retries,
      startPeriod: p.healthcheck.startPeriodSeconds,
    },
    stopTimeout: Math.min(args.stopTimeoutSeconds, 120),
    logConfiguration: log("app"),
    mountPoints: args.mountPoints ?? [],
    dependsOn: d !== undefined ? [{ containerName: PGVECTOR_INIT, condition: "SUCCESS" }] : [],
  };
  if (d === undefined) return [app];
  const init: aws.ecs.ContainerDefinition = {
    name: PGVECTOR_INIT,
    image: d.psqlImage,
    essential: false,
    memory: PGVECTOR_INIT_MEMORY_MB,
    command: ["sh", "-c", `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -c "${PGVECTOR_SQL}"`],
    secrets: [{ name: "DATABASE_URL", valueFrom: d.urlFrom }],
    logConfiguration: log(PGVECTOR_INIT),
  };
  return [app, init];
}
