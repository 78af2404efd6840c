import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { composeText, STAND_IN_SOURCE } from "./checkouts";
import { BUSYBOX } from "./pg-engine";

/*
 * AWS stack files for the migrate-data tests: one on the Docker host (built from the
 * stand-in checkout, as prod would be from a checkout) and one on ECS (which runs
 * promoted images only: the release npm run promote would write, one digest per
 * service). Only the keys the tests need; the rest are the schema's defaults.
 */

const AWS_BASE = { region: "eu-west-1", vpcCidr: "10.42.0.0/16" };

/** Writes Pulumi.<stack>.yaml for runtime docker-host; `aws` is merged into panopticon:aws. */
export function dockerHostStack(dir: string, stack: string, aws: Record<string, unknown>): string {
  const config = {
    "panopticon:environment": "aws",
    "panopticon:appSource": STAND_IN_SOURCE,
    "panopticon:initImage": BUSYBOX,
    "panopticon:aws": { ...AWS_BASE, ...aws },
  };
  fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stringifyYaml({ config }));
  return stack;
}

/** Writes Pulumi.<stack>.yaml for runtime ecs with a promoted compose-era release. */
export function ecsStack(dir: string, stack: string): string {
  const compose = parseYaml(composeText("compose-era")) as { services: Record<string, unknown> };
  const digest = (n: string) =>
    `registry.example/panopticon/${n}@sha256:${createHash("sha256").update(n).digest("hex")}`;
  const config = {
    "panopticon:environment": "aws",
    "panopticon:release": { source: { commit: "0".repeat(40), dirty: false }, compose },
    "panopticon:services": Object.fromEntries(
      Object.keys(compose.services)
        .filter((n) => n !== "postgres")
        .map((n) => [n, { image: digest(n) }]),
    ),
    "panopticon:aws": {
      ...AWS_BASE,
      runtime: "ecs",
      ecs: {
        certificateArn:
          "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666",
        loadBalanced: { "main-app": 443 },
      },
    },
  };
  fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stringifyYaml({ config }));
  return stack;
}
