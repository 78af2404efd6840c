import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { kebab, TYPES } from "../../config/naming";
import { ProtectionPolicy, statefulOptions } from "../../protection";
import { postgresUrl } from "../shared";

export interface EcsSecretsArgs {
  readonly stack: string;
  readonly protection: ProtectionPolicy;
  /** The data key's ARN: every secret is encrypted with it. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** The configured secret values, by environment variable (e.g. `API_KEY`). */
  readonly values: Readonly<Record<string, pulumi.Input<string>>>;
  /** The database's connection settings; the password and the URL become a secret. */
  readonly database: {
    readonly host: pulumi.Input<string>;
    readonly port: pulumi.Input<number>;
    readonly user: string;
    readonly name: string;
    readonly password: pulumi.Input<string>;
  };
}

/** `valueFrom` of one JSON key of a Secrets Manager secret, as task definitions take it. */
export function jsonKey(secretArn: pulumi.Input<string>, key: string): pulumi.Output<string> {
  return pulumi.interpolate`${secretArn}:${key}::`;
}

/**
 * The stack's secrets in Secrets Manager, encrypted with the data key: one per
 * configured API key, and one for the database (`password` and the `url` that
 * embeds it). Tasks receive them through the task definition's `secrets`, so no
 * value appears in a task definition or in plain state. Losing a secret loses its
 * value: secrets and their versions are protected and retained like the data, and a
 * deleted secret waits out the 30-day recovery window.
 */
export class EcsSecrets extends pulumi.ComponentResource {
  /** Secret ARN by environment variable. */
  public readonly arns: Readonly<Record<string, pulumi.Output<string>>>;
  public readonly databaseArn: pulumi.Output<string>;

  constructor(name: string, args: EcsSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPES.EcsSecrets, name, {}, opts);
    const keep = { parent: this, ...statefulOptions(args.protection) };
    const secret = (id: string, physical: string, value: pulumi.Input<string>) => {
      const s = new aws.secretsmanager.Secret(
        `${name}-${id}`,
        {
          name: physical,
          kmsKeyId: args.kmsKeyArn,
          recoveryWindowInDays: 30,
          tags: { Name: physical },
        },
        keep,
      );
      new aws.secretsmanager.SecretVersion(
        `${name}-${id}-value`,
        { secretId: s.id, secretString: pulumi.secret(value) },
        keep,
      );
      return s.arn;
    };
    const arns: Record<string, pulumi.Output<string>> = {};
    for (const env of Object.keys(args.values).sort()) {
      arns[env] = secret(
        kebab(env.toLowerCase()),
        `panopticon/${args.stack}/${env}`,
        args.values[env],
      );
    }
    this.arns = arns;
    const d = args.database;
    const url = postgresUrl({
      user: d.user,
      password: d.password,
      host: d.host,
      port: d.port,
      database: d.name,
    });
    this.databaseArn = secret(
      "database",
      `panopticon/${args.stack}/database`,
      pulumi.jsonStringify({ password: d.password, url }),
    );
    this.registerOutputs({ arns: this.arns, databaseArn: this.databaseArn });
  }
}
