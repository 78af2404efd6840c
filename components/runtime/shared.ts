import * as pulumi from "@pulumi/pulumi";

/*
 * What the three runtimes (local, docker-host, ecs) share: the shapes they hand each
 * other and index.ts, and the one way a Postgres connection string is written.
 */

/** A managed database (RDS) the services use instead of the postgres container. */
export interface ExternalDatabase {
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  /** The database's master password (secret). */
  readonly password: pulumi.Input<string>;
}

/** Where one built service image is pushed (an ECR repository on AWS). */
export interface ImageRepository {
  /** `host/path`, no tag. */
  readonly url: pulumi.Input<string>;
}

/** One data set as the stack outputs show it. */
export interface DataVolumeOutput {
  readonly backend: string;
  readonly source: pulumi.Output<string>;
}

/** What every runtime gives the stack outputs (index.ts exports them). */
export interface RuntimeOutputs {
  readonly endpoints: pulumi.Output<Record<string, string>>;
  readonly volumes: Record<string, DataVolumeOutput>;
  /** `postgresql://` URL of the database; secret. */
  readonly connectionString: pulumi.Output<string>;
  readonly protectionSummary: string;
  /** Service → the image it runs; the Docker runtimes only. */
  readonly images?: pulumi.Output<Record<string, string>>;
}

/** The parts of a Postgres connection string. */
export interface PostgresAddress {
  readonly user: string;
  readonly password: pulumi.Input<string>;
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  readonly database: string;
}

/**
 * `postgresql://user:password@host:port/database`, the password URL-encoded (a
 * generated one may hold `/` or `@`). Not marked secret: callers that export it or
 * hand it to a container wrap it (pulumi.secret) where it is used.
 */
export function postgresUrl(a: PostgresAddress): pulumi.Output<string> {
  const password = pulumi.output(a.password).apply(encodeURIComponent);
  return pulumi.interpolate`postgresql://${a.user}:${password}@${a.host}:${a.port}/${a.database}`;
}
