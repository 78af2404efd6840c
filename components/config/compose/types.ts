import type { Interpolated } from "./interpolate";
import type { Port, Volume } from "./units";

/* The typed shape of a compose file as the program reads it (components/config/compose/read.ts). */

export interface EnvEntry {
  readonly key: string;
  /** As written in compose, before interpolation. */
  readonly raw: string;
  readonly value: Interpolated;
}

export interface ComposeHealthcheck {
  readonly test: readonly string[];
  readonly intervalSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly retries?: number;
  readonly startPeriodSeconds?: number;
}

export type Restart = "no" | "always" | "on-failure" | "unless-stopped";

export interface ComposeService {
  readonly name: string;
  readonly image?: string;
  readonly build?: {
    readonly context: string;
    readonly dockerfile: string;
    readonly args: Readonly<Record<string, string>>;
  };
  readonly ports: readonly Port[];
  readonly expose: readonly number[];
  readonly volumes: readonly Volume[];
  readonly environment: readonly EnvEntry[];
  readonly dependsOn: ReadonlyArray<{
    readonly service: string;
    readonly condition: "service_started" | "service_healthy";
  }>;
  readonly healthcheck?: ComposeHealthcheck;
  readonly restart?: Restart;
  readonly limits: { readonly cpus?: number; readonly memoryMb?: number };
  readonly command?: readonly string[];
  readonly stopSignal?: string;
}

export interface ComposeFile {
  /** Where it was read from, for messages (`../Argus/docker-compose.yml`, `panopticon:release.compose`). */
  readonly origin: string;
  readonly services: readonly ComposeService[];
  /** Top-level `volumes:`: name → the external name when `external: true`. */
  readonly volumes: Readonly<Record<string, { readonly external?: string }>>;
}
