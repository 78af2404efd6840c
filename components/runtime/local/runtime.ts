import * as pulumi from "@pulumi/pulumi";
import { Panopticon } from "../docker/panopticon";
import { Settings } from "../../config/settings";

export interface LocalRuntimeArgs {
  /** Validated settings of an `environment: local` stack. */
  readonly settings: Settings;
  /** The configured `postgresPassword` secret. @default a generated one */
  readonly postgresPassword?: pulumi.Input<string>;
  /** Secret variables by name (API_KEY, ...), each a Pulumi secret. */
  readonly secrets: Readonly<Record<string, pulumi.Input<string>>>;
}

/**
 * Panopticon on the local Docker engine (the `docker` provider's default, or
 * `docker:host`): the Panopticon containers with their own postgres container and no
 * cloud at all. It is the component itself, at the stack's root as it always was
 * (a wrapper would become part of every volume's URN).
 */
export function localRuntime(name: string, args: LocalRuntimeArgs): Panopticon {
  return new Panopticon(name, {
    settings: args.settings,
    secrets: args.secrets,
    postgresPassword: args.postgresPassword,
  });
}
