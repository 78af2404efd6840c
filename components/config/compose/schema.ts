import { z } from "zod";

/*
 * The subset of the Compose Specification the program translates, as a typed zod
 * schema. A key outside it is refused by read.ts with what to do instead, so
 * nothing in a checkout's compose file is ever silently dropped. Values are
 * checked here for shape only; units, interpolation and cross-references are
 * read.ts's and the policy layer's.
 */

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const stringList = z.array(z.string());
/** `environment:` and `build.args:` are a list of `K=V` or a map (null: taken from the shell). */
const envLike = z.union([stringList, z.record(z.string(), z.union([scalar, z.null()]))]);

const port = z.union([
  z.string(),
  z.number(),
  z
    .object({
      target: z.number(),
      published: z.union([z.string(), z.number()]).optional(),
      host_ip: z.string().optional(),
      protocol: z.string().optional(),
    })
    .strict(),
]);

const volume = z.union([
  z.string(),
  z
    .object({
      type: z.enum(["bind", "volume"]),
      source: z.string(),
      target: z.string(),
      read_only: z.boolean().optional(),
    })
    .strict(),
]);

const dependsOn = z.union([
  stringList,
  z.record(
    z.string(),
    z
      .object({
        condition: z.string().optional(),
        required: z.boolean().optional(),
        restart: z.boolean().optional(),
      })
      .strict(),
  ),
]);

const healthcheck = z
  .object({
    test: z.union([z.string(), stringList]).optional(),
    interval: z.string().optional(),
    timeout: z.string().optional(),
    retries: z.number().optional(),
    start_period: z.string().optional(),
    disable: z.boolean().optional(),
  })
  .strict();

const deploy = z
  .object({
    resources: z
      .object({
        limits: z
          .object({
            cpus: z.union([z.string(), z.number()]).optional(),
            memory: z.union([z.string(), z.number()]).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const build = z.union([
  z.string(),
  z
    .object({
      context: z.string().optional(),
      dockerfile: z.string().optional(),
      args: envLike.optional(),
    })
    .strict(),
]);

/** The service keys the program translates; every other key is refused by name. */
export const serviceSchema = z
  .object({
    image: z.string(),
    build,
    ports: z.array(port),
    expose: z.array(z.union([z.string(), z.number()])),
    volumes: z.array(volume),
    environment: envLike,
    depends_on: dependsOn,
    healthcheck,
    restart: z.string(),
    deploy,
    command: z.union([z.string(), stringList]),
    stop_signal: z.string(),
  })
  .partial()
  .strict();

export const SUPPORTED_SERVICE_KEYS = Object.keys(serviceSchema.shape);

export const volumeDeclSchema = z.union([
  z.null(),
  z
    .object({
      external: z.boolean().optional(),
      name: z.string().optional(),
    })
    .strict(),
]);

export const composeSchema = z
  .object({
    version: z.union([z.string(), z.number()]).optional(),
    name: z.string().optional(),
    services: z.record(z.string(), z.record(z.string(), z.unknown())),
    volumes: z.record(z.string(), volumeDeclSchema).optional(),
  })
  .catchall(z.unknown());

export type RawService = z.infer<typeof serviceSchema>;
export type RawCompose = z.infer<typeof composeSchema>;
