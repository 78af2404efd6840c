import { z } from "zod";
import { awsSchema } from "./aws";
import { imagesSchema } from "./images";
import { DOCKER_NAME, image, servicesSchema } from "./services-schema";

/*
 * The schema of the `panopticon:` namespace (secrets aside): every key a stack file may
 * set, its type and its range. Values that depend on each other are checked after it
 * (components/config/settings.ts and the steps it calls).
 */

const PG_IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

const rawSchema = z
  .object({
    environment: z.enum(["local", "aws"], { error: 'expected "local" or "aws"' }),
    storageMode: z.enum(["volume", "bind"], { error: 'expected "volume" or "bind"' }),
    dataDir: z.string().min(1, "expected a directory path"),
    bindAddress: z.union([z.ipv4(), z.ipv6()], {
      error: "expected an IP address to publish ports on, e.g. 127.0.0.1",
    }),
    stopGraceSeconds: z
      .number({ error: "expected an integer number of seconds, at least 60" })
      .int("expected an integer number of seconds, at least 60")
      .min(60, "expected an integer number of seconds, at least 60 (databases need time to stop)")
      .max(3600, "expected at most 3600 seconds"),
    protect: z.boolean({ error: "expected true or false" }),
    initImage: image,
    postgresDatabase: z.string().regex(PG_IDENT, "expected a Postgres identifier"),
    postgresUser: z.string().regex(PG_IDENT, "expected a Postgres identifier"),
    postgresMajor: z
      .number({ error: "expected a Postgres major version such as 15" })
      .int("expected a Postgres major version such as 15")
      .min(9, "expected a Postgres major version such as 15")
      .max(99, "expected a Postgres major version such as 15"),
    logLevel: z.enum(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], {
      error: "expected a Python log level: DEBUG, INFO, WARNING, ERROR or CRITICAL",
    }),
    services: servicesSchema,
    volumeNames: z.record(
      z.string(),
      z.string().regex(DOCKER_NAME, "expected a Docker volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"),
    ),
    adoptComposeVolumes: z.boolean({ error: "expected true or false" }),
    acknowledgeUnmigratedData: z.boolean({ error: "expected true or false" }),
    aws: awsSchema,
    release: z
      .object({
        source: z
          .object({
            commit: z.string().nullable(),
            dirty: z.boolean().nullable(),
          })
          .partial()
          .strict(),
        compose: z.record(z.string(), z.unknown(), {
          error: "expected the promoted docker-compose.yml as a map (written by npm run promote)",
        }),
      })
      .partial({ source: true })
      .strict(),
    ...imagesSchema,
  })
  .partial()
  .strict();

/** The stack config as validated, before defaults. */
export type RawSettings = z.infer<typeof rawSchema>;

/** The schema of the `panopticon:` namespace (secrets aside); the docs check lists its keys. */
export const configSchema = rawSchema;
