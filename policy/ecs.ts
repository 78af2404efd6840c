import type { ResourceValidationPolicy } from "@pulumi/policy";
import { RESOURCE_TYPES } from "../components/contract";
import { isSecretEnvEntry } from "./secrets";

/*
 * Policies of the ECS runtime, over what a task definition or load balancer sends
 * to the engine. Matched by type token, like the rest of the pack (no @pulumi/aws).
 */

export const ECS_T = {
  taskDefinition: RESOURCE_TYPES.ecsTaskDefinition,
  loadBalancer: RESOURCE_TYPES.loadBalancer,
} as const;

type Json = Record<string, unknown>;

/** The container definitions of a task definition (a JSON string input); [] when unknown yet. */
function containerDefinitions(props: Json): Json[] {
  const raw = props.containerDefinitions;
  if (typeof raw !== "string") return [];
  try {
    const parsed = JSON.parse(raw) as unknown;
    return Array.isArray(parsed) ? (parsed as Json[]) : [];
  } catch {
    return [];
  }
}

export function ecsPolicies(): ResourceValidationPolicy[] {
  return [
    {
      name: "ecs-secrets-not-in-environment",
      description:
        "A task definition passes credentials through `secrets` (Secrets Manager or SSM), never `environment`, which anyone who can describe it reads.",
      validateResource: (args, report) => {
        if (args.type !== ECS_T.taskDefinition) return;
        for (const c of containerDefinitions(args.props as Json)) {
          for (const e of (c.environment as Json[] | undefined) ?? []) {
            if (isSecretEnvEntry(`${String(e.name)}=${String(e.value ?? "")}`)) {
              report(
                `container ${JSON.stringify(c.name)}: ${String(e.name)} is a credential in plain environment: expected it under secrets (valueFrom a Secrets Manager ARN)`,
              );
            }
          }
        }
      },
    },
    {
      name: "ecs-efs-tls-and-iam",
      description:
        "A task mounts EFS only through an access point, with transit encryption and IAM authorisation.",
      validateResource: (args, report) => {
        if (args.type !== ECS_T.taskDefinition) return;
        const volumes = ((args.props as Json).volumes as Json[] | undefined) ?? [];
        for (const v of volumes) {
          const efs = v.efsVolumeConfiguration as Json | undefined;
          if (efs === undefined) continue;
          const auth = (efs.authorizationConfig ?? {}) as Json;
          const name = JSON.stringify(v.name);
          if (efs.transitEncryption !== "ENABLED")
            report(
              `volume ${name}: transitEncryption = ${JSON.stringify(efs.transitEncryption)}: expected "ENABLED"`,
            );
          if (auth.iam !== "ENABLED" || typeof auth.accessPointId !== "string")
            report(
              `volume ${name}: expected authorizationConfig with an accessPointId and iam "ENABLED"`,
            );
        }
      },
    },
    {
      name: "load-balancer-internal",
      description: "Load balancers are internal: Panopticon has no public ingress.",
      validateResource: (args, report) => {
        if (args.type !== ECS_T.loadBalancer) return;
        if ((args.props as Json).internal !== true)
          report("internal = false: expected an internal load balancer (no public ingress)");
      },
    },
  ];
}
