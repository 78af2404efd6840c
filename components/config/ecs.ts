import { z } from "zod";
import { SERVICE_NAME, SERVICE_NAME_HINT } from "./naming";

/*
 * The `panopticon:aws.ecs` block: settings of the ECS (Fargate) runtime, read only
 * when `panopticon:aws.runtime` is `ecs`. Cross-checks against the service list
 * (unknown services, single writers that would scale) live in components/ecs-plan.ts,
 * which runs inside parseSettings, before any resource exists.
 */

export const RUNTIMES = ["docker-host", "ecs"] as const;
export type AwsRuntime = (typeof RUNTIMES)[number];

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

const scalingSchema = z
  .object({
    min: z
      .number({ error: "expected a whole number of tasks, at least 1" })
      .int("expected a whole number of tasks, at least 1")
      .min(1, "expected at least 1 task"),
    max: z
      .number({ error: "expected a whole number of tasks, at most 100" })
      .int("expected a whole number of tasks, at most 100")
      .min(1, "expected at least 1 task")
      .max(100, "expected at most 100 tasks"),
    cpuTarget: z
      .number({ error: "expected a CPU utilisation percentage between 10 and 90" })
      .min(10, "expected a CPU utilisation percentage between 10 and 90")
      .max(90, "expected a CPU utilisation percentage between 10 and 90"),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.min > s.max) {
      ctx.addIssue({
        code: "custom",
        path: ["min"],
        message: `expected min (${s.min}) to be at most max (${s.max})`,
      });
    }
  });

export type ScalingSettings = z.output<typeof scalingSchema>;

const cidr = z
  .string()
  .regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, "expected an IPv4 CIDR such as 10.0.0.0/16")
  .refine((c) => !c.endsWith("/0"), {
    message: "must not open the load balancer to every address (/0); it is internal only",
  });

const serviceName = z.string().regex(SERVICE_NAME, SERVICE_NAME_HINT);

export const ecsSchema = z
  .object({
    /** ACM certificate of the internal load balancer's HTTPS listeners. */
    certificateArn: z
      .string({
        error:
          "expected an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>)",
      })
      .regex(
        /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/,
        "expected an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>)",
      ),
    /** Days CloudWatch keeps each service's logs (and the load balancer's access logs). */
    logRetentionDays: z
      .number({ error: `expected one of ${LOG_RETENTION_DAYS.join(", ")}` })
      .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
        message: `expected one of the periods CloudWatch accepts: ${LOG_RETENTION_DAYS.join(", ")}`,
      })
      .default(30),
    /**
     * `*_STORAGE_TYPE` of the storage services. `postgres` (pgvector on RDS) makes them
     * stateless, so they scale; `chroma` keeps their files on EFS, one writer each.
     */
    storageType: z
      .enum(["postgres", "chroma"], { error: 'expected "postgres" or "chroma"' })
      .default("postgres"),
    /** Services behind the internal load balancer, with their HTTPS listener port. */
    loadBalanced: z
      .record(serviceName, z.number().int().min(1).max(65535), {
        error: "expected a map of service name to HTTPS port",
      })
      .default({ "main-app": 443, "visualization-service": 8443 }),
    /** Who may reach the load balancer. @default the VPC's CIDR */
    albAllowedCidrs: z.array(cidr).optional(),
    /** Autoscaling of every stateless service, and per-service overrides. */
    autoscaling: z
      .object({
        default: scalingSchema.default({ min: 1, max: 4, cpuTarget: 60 }),
        services: z.record(serviceName, scalingSchema).default({}),
      })
      .strict()
      .default({ default: { min: 1, max: 4, cpuTarget: 60 }, services: {} }),
    /** Extra callers per service, beyond the ones its URL variables imply (port 8000). */
    allow: z.record(serviceName, z.array(serviceName)).default({}),
    /**
     * Keep the Docker host's EBS data disk (and its snapshots) after moving to ECS:
     * it holds the ChromaDB files until they are migrated and verified (docs/ecs.md).
     */
    keepHostDataDisk: z.boolean({ error: "expected true or false" }).default(false),
    /** Image of the one-shot container that enables pgvector (needs psql). */
    psqlImage: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/, "expected an image reference")
      .default("public.ecr.aws/docker/library/postgres:15-bookworm"),
  })
  .strict();

export type EcsSettings = z.output<typeof ecsSchema>;
