import { z } from "zod";
import { isSecretVariable } from "./catalogue";
import { SERVICE_NAME, SERVICE_NAME_HINT } from "./naming";

/*
 * The schema of `panopticon:services`: per-service overrides of the catalogue, new
 * services, and `<name>: false` to remove one. Shapes and value ranges only; what the
 * values mean together is components/config/services.ts.
 */

const DATA_SET = /^[a-z][a-z0-9_]{0,40}$/;
export const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Reserved: the program injects the connection settings itself. */
const RESERVED_ENV = /^(POSTGRES_|DATABASE_URL$|PGPASSWORD$)/;
const SIGNAL = /^SIG[A-Z0-9]+$/;
const IMAGE_HINT = "expected a container image reference, e.g. postgres:15 or repo@sha256:<digest>";

const port = z
  .number({ error: "expected an integer port between 1 and 65535" })
  .int("expected an integer port between 1 and 65535")
  .min(1, "expected an integer port between 1 and 65535")
  .max(65535, "expected an integer port between 1 and 65535");

export const image = z
  .string({ error: IMAGE_HINT })
  .regex(/^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/, IMAGE_HINT);

const id = z
  .number({ error: "expected a numeric uid/gid between 0 and 65535" })
  .int("expected a numeric uid/gid between 0 and 65535")
  .min(0, "expected a numeric uid/gid between 0 and 65535")
  .max(65535, "expected a numeric uid/gid between 0 and 65535");

const seconds = z
  .number({ error: "expected a whole number of seconds" })
  .int("expected a whole number of seconds")
  .min(0, "expected a whole number of seconds");

const envKey = z.string().regex(ENV_KEY, "expected an environment variable name");
const serviceName = z.string().regex(SERVICE_NAME, SERVICE_NAME_HINT);

export const dataSchema = z
  .object({
    set: z.string().regex(DATA_SET, "expected a data-set key: lower case, digits, _ (e.g. judge)"),
    path: z.string().regex(/^\/\S*$/, "expected an absolute path inside the container"),
    persistEnv: envKey,
    bindDir: z.string().regex(/^[A-Za-z0-9_.-]+$/, "expected a single directory name"),
    composeVolume: z.string().regex(DOCKER_NAME, "expected a Docker volume name"),
    uid: id,
    gid: id,
  })
  .partial()
  .strict();

const serviceSchema = z
  .object({
    kind: z.enum(["postgres", "app"], { error: 'expected "postgres" or "app"' }),
    image,
    build: z
      .object({
        context: z.string().min(1, "expected a directory inside the Panopticon checkout"),
        dockerfile: z.string().min(1, "expected a dockerfile path inside the Panopticon checkout"),
      })
      .partial()
      .strict(),
    port,
    hostPort: z.union([port, z.literal(false)], {
      error: "expected an integer port between 1 and 65535, or false for no published port",
    }),
    stopSignal: z.string().regex(SIGNAL, "expected a signal name such as SIGTERM"),
    env: z.record(
      envKey.refine((k) => !RESERVED_ENV.test(k), {
        message: "is reserved: the program injects the Postgres connection settings",
      }),
      z.string({ error: "expected a string value (quote numbers and booleans)" }),
    ),
    urls: z.record(envKey, serviceName),
    secrets: z.array(
      z.string().refine(isSecretVariable, {
        message: "expected a secret variable: API_KEY or a name ending in _API_KEY",
      }),
    ),
    database: z.boolean({ error: "expected true or false" }),
    dependsOn: z.array(serviceName),
    healthcheck: z
      .object({
        test: z.array(z.string()).min(1, "expected a non-empty command, e.g. [CMD, curl, ...]"),
        intervalSeconds: seconds,
        timeoutSeconds: seconds,
        retries: z
          .number({ error: "expected a whole number of retries, at least 1" })
          .int("expected a whole number of retries, at least 1")
          .min(1, "expected at least 1 retry"),
        startPeriodSeconds: seconds,
      })
      .partial()
      .strict(),
    limits: z
      .object({
        cpus: z
          .number({ error: "expected a positive number of CPUs, e.g. 0.5" })
          .positive("expected a positive number of CPUs, e.g. 0.5")
          .max(64, "expected at most 64 CPUs"),
        memoryMb: z
          .number({ error: "expected a whole number of MB, at least 16" })
          .int("expected a whole number of MB, at least 16")
          .min(16, "expected a whole number of MB, at least 16")
          .max(1048576, "expected at most 1048576 MB"),
      })
      .partial()
      .strict(),
    data: z.union([dataSchema, z.literal(false)], {
      error: "expected a data mapping {set, path, persistEnv, uid, gid, bindDir} or false",
    }),
    command: z.array(z.string()),
    restart: z.enum(["no", "always", "on-failure", "unless-stopped"], {
      error: "expected no, always, on-failure or unless-stopped",
    }),
  })
  .partial()
  .strict();

export const servicesSchema = z.record(
  serviceName,
  z.union([serviceSchema, z.literal(false)], {
    error: "expected the service's settings, or false to remove it",
  }),
);
export type ServiceOverride = z.infer<typeof serviceSchema>;
export type DataOverride = z.infer<typeof dataSchema>;
