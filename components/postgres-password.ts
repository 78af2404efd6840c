import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/**
 * The Postgres password as a Pulumi secret: the configured one, or one generated
 * (a child of `parent`) when none is configured. Letters and digits only: RDS
 * refuses / @ " and spaces in a master password, and the value goes into a URL.
 * A generated password lives only in stack state (docs/configuration.md: set postgresPassword).
 */
export function postgresPassword(
  name: string,
  configured: pulumi.Input<string> | undefined,
  parent: pulumi.Resource,
): pulumi.Output<string> {
  return pulumi.secret(
    configured ??
      new random.RandomPassword(name, { length: 32, special: false }, { parent }).result,
  );
}
