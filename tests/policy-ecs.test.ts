import { createPolicies } from "../policy/policies";
import { byName, violations } from "../policy/testing";

/* The pack's ECS policies on a compliant resource and on its broken twins. */

const policies = createPolicies({ stackEnvironment: "aws" });
const TD = "aws:ecs/taskDefinition:TaskDefinition";
const LB = "aws:lb/loadBalancer:LoadBalancer";

const taskDef = (env: Array<{ name: string; value: string }>, volumes: unknown[] = []) => ({
  type: TD,
  props: {
    containerDefinitions: JSON.stringify([
      {
        name: "app",
        environment: env,
        secrets: [{ name: "API_KEY", valueFrom: "arn:aws:secretsmanager:eu-west-1:1:secret:k" }],
      },
    ]),
    volumes,
  },
});
const efsVolume = (cfg: Record<string, unknown>) => ({ name: "data", efsVolumeConfiguration: cfg });
const GOOD_EFS = {
  fileSystemId: "fs-1",
  transitEncryption: "ENABLED",
  authorizationConfig: { accessPointId: "fsap-1", iam: "ENABLED" },
};

describe("ecs-secrets-not-in-environment", () => {
  const p = byName(policies, "ecs-secrets-not-in-environment");
  test("plain settings and secret references pass", async () => {
    expect(await violations(p, taskDef([{ name: "LOG_LEVEL", value: "INFO" }]))).toEqual([]);
  });
  test("a key, a password or a URL with a password in environment is caught", async () => {
    expect(await violations(p, taskDef([{ name: "OPENAI_API_KEY", value: "sk-1" }]))).toEqual([
      'container "app": OPENAI_API_KEY is a credential in plain environment: expected it under secrets (valueFrom a Secrets Manager ARN)',
    ]);
    expect(
      await violations(p, taskDef([{ name: "DB", value: "postgresql://u:pw@h:5432/d" }])),
    ).toHaveLength(1);
  });
});

describe("ecs-efs-tls-and-iam", () => {
  const p = byName(policies, "ecs-efs-tls-and-iam");
  test("an access point with TLS and IAM passes", async () => {
    expect(await violations(p, taskDef([], [efsVolume(GOOD_EFS)]))).toEqual([]);
  });
  test("no TLS, or no IAM, is caught", async () => {
    expect(
      await violations(p, taskDef([], [efsVolume({ ...GOOD_EFS, transitEncryption: "DISABLED" })])),
    ).toEqual(['volume "data": transitEncryption = "DISABLED": expected "ENABLED"']);
    expect(
      await violations(
        p,
        taskDef([], [efsVolume({ fileSystemId: "fs-1", transitEncryption: "ENABLED" })]),
      ),
    ).toEqual([
      'volume "data": expected authorizationConfig with an accessPointId and iam "ENABLED"',
    ]);
  });
});

describe("load-balancer-internal", () => {
  const p = byName(policies, "load-balancer-internal");
  test("internal passes, internet-facing is caught", async () => {
    expect(await violations(p, { type: LB, props: { internal: true } })).toEqual([]);
    expect(await violations(p, { type: LB, props: { internal: false } })).toEqual([
      "internal = false: expected an internal load balancer (no public ingress)",
    ]);
  });
});
