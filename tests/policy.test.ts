import * as fs from "fs";
import * as path from "path";
import { Secret } from "@pulumi/policy";
import { parse } from "yaml";
import { createPolicies, PACK_NAME, POLICY_NAMES, T } from "../policy/policies";
import { resolveEnvironment } from "../policy/environment";
import { isSecretEnvEntry, markPlainSecrets, unwrapPolicyProxy } from "../policy/secrets";
import { STATEFUL_TYPES } from "../policy/stateful";
import { byName, FakeResource, violations } from "../policy/testing";

const local = createPolicies({ stackEnvironment: "local" });
const aws = createPolicies({ stackEnvironment: "aws" });

const goodRds = {
  deletionProtection: true,
  skipFinalSnapshot: false,
  finalSnapshotIdentifier: "panopticon-prod-final-3f9a2c",
  backupRetentionPeriod: 14,
  storageEncrypted: true,
  publiclyAccessible: false,
  manageMasterUserPassword: true,
};

/** Every policy gets one compliant and one non-compliant case; the second must be caught. */
const cases: Array<{
  policy: string;
  policies?: typeof local;
  compliant: FakeResource;
  nonCompliant: FakeResource;
  expect: RegExp;
}> = [
  {
    policy: "stateful-protected-in-prod",
    policies: aws,
    compliant: { type: "aws:rds/instance:Instance", protect: true, props: goodRds },
    nonCompliant: { type: "aws:ebs/volume:Volume", protect: false, name: "data" },
    expect: /EBS volume "data" must have protect: true/,
  },
  {
    policy: "rds-deletion-protection",
    compliant: { type: T.rdsInstance, props: goodRds },
    nonCompliant: { type: T.rdsInstance, props: { ...goodRds, deletionProtection: false } },
    expect: /deletionProtection = false: expected true/,
  },
  {
    policy: "rds-final-snapshot",
    compliant: { type: T.rdsInstance, props: goodRds },
    nonCompliant: {
      type: T.rdsInstance,
      props: { ...goodRds, skipFinalSnapshot: true, finalSnapshotIdentifier: undefined },
    },
    expect: /skipFinalSnapshot = true/,
  },
  {
    policy: "rds-backup-retention",
    compliant: { type: T.rdsInstance, props: goodRds },
    nonCompliant: { type: T.rdsInstance, props: { ...goodRds, backupRetentionPeriod: 1 } },
    expect: /backupRetentionPeriod = 1: expected at least 7 days/,
  },
  {
    policy: "rds-encrypted",
    compliant: { type: T.rdsInstance, props: goodRds },
    nonCompliant: { type: T.rdsInstance, props: { ...goodRds, storageEncrypted: undefined } },
    expect: /storageEncrypted = \(not set\): expected true/,
  },
  {
    policy: "rds-not-public",
    compliant: { type: T.rdsInstance, props: goodRds },
    nonCompliant: { type: T.rdsInstance, props: { ...goodRds, publiclyAccessible: true } },
    expect: /publiclyAccessible = true/,
  },
  {
    policy: "efs-encrypted",
    compliant: { type: T.efs, props: { encrypted: true } },
    nonCompliant: { type: T.efs, props: { encrypted: false } },
    expect: /encrypted = false: expected true/,
  },
  {
    policy: "ebs-encrypted",
    compliant: { type: T.ebs, props: { encrypted: true, size: 100 } },
    nonCompliant: { type: T.ebs, props: { size: 100 } },
    expect: /encrypted = \(not set\): expected true/,
  },
  {
    policy: "local-ports-loopback",
    compliant: {
      type: T.container,
      props: { ports: [{ internal: 5432, external: 5432, ip: "127.0.0.1" }] },
    },
    nonCompliant: { type: T.container, props: { ports: [{ internal: 8000, external: 8001 }] } },
    expect: /ports\[0\] \(8000 -> host 8001\) ip = \(not set\): expected a loopback address/,
  },
  {
    policy: "no-public-ingress",
    compliant: {
      type: T.securityGroup,
      props: {
        ingress: [{ fromPort: 22, toPort: 22, protocol: "tcp", cidrBlocks: ["10.8.0.0/16"] }],
      },
    },
    nonCompliant: {
      type: T.securityGroup,
      props: {
        ingress: [{ fromPort: 22, toPort: 22, protocol: "tcp", cidrBlocks: ["0.0.0.0/0"] }],
      },
    },
    expect: /ingress\[0\] \(ports 22-22\) allows 0\.0\.0\.0\/0/,
  },
  {
    policy: "no-plaintext-secrets",
    compliant: {
      type: T.ec2Instance,
      props: {
        userData: "#!/bin/bash\nPW=$(aws ssm get-parameter --with-decryption --name /pg)\n",
      },
    },
    nonCompliant: {
      type: T.ec2Instance,
      props: { userData: "#!/bin/bash\nexport POSTGRES_PASSWORD=hunter2\n" },
    },
    expect: /userData assigns a credential/,
  },
  {
    policy: "ecs-secrets-not-in-environment",
    compliant: {
      type: "aws:ecs/taskDefinition:TaskDefinition",
      props: { containerDefinitions: JSON.stringify([{ name: "a", environment: [] }]) },
    },
    nonCompliant: {
      type: "aws:ecs/taskDefinition:TaskDefinition",
      props: {
        containerDefinitions: JSON.stringify([
          { name: "a", environment: [{ name: "API_KEY", value: "k" }] },
        ]),
      },
    },
    expect: /API_KEY is a credential in plain environment/,
  },
  {
    policy: "ecs-efs-tls-and-iam",
    compliant: {
      type: "aws:ecs/taskDefinition:TaskDefinition",
      props: {
        volumes: [
          {
            name: "d",
            efsVolumeConfiguration: {
              transitEncryption: "ENABLED",
              authorizationConfig: { accessPointId: "fsap-1", iam: "ENABLED" },
            },
          },
        ],
      },
    },
    nonCompliant: {
      type: "aws:ecs/taskDefinition:TaskDefinition",
      props: { volumes: [{ name: "d", efsVolumeConfiguration: { fileSystemId: "fs-1" } }] },
    },
    expect: /transitEncryption = undefined: expected "ENABLED"/,
  },
  {
    policy: "load-balancer-internal",
    compliant: { type: "aws:lb/loadBalancer:LoadBalancer", props: { internal: true } },
    nonCompliant: { type: "aws:lb/loadBalancer:LoadBalancer", props: { internal: false } },
    expect: /expected an internal load balancer/,
  },
];

describe(`policy pack ${PACK_NAME}`, () => {
  it("has a compliant and a non-compliant case for every validating policy", () => {
    const validating = local.filter((p) => p.validateResource !== undefined).map((p) => p.name);
    expect(cases.map((c) => c.policy).sort()).toEqual([...validating].sort());
  });

  it("is mandatory by default, with one remediating policy for secrets", () => {
    const levels = Object.fromEntries(local.map((p) => [p.name, p.enforcementLevel ?? "pack"]));
    expect(levels["secret-inputs-encrypted"]).toBe("remediate");
    const others = Object.entries(levels).filter(([n]) => n !== "secret-inputs-encrypted");
    expect(others.every(([, l]) => l === "pack")).toBe(true);
    const entry = fs.readFileSync(path.join(__dirname, "..", "policy", "index.ts"), "utf8");
    expect(entry).toMatch(/enforcementLevel: "mandatory"/);
  });

  for (const c of cases) {
    describe(c.policy, () => {
      const policies = c.policies ?? local;
      it("passes the compliant resource", async () => {
        expect(await violations(byName(policies, c.policy), c.compliant)).toEqual([]);
      });
      it("reports the non-compliant resource", async () => {
        const found = await violations(byName(policies, c.policy), c.nonCompliant);
        expect(found.length).toBeGreaterThan(0);
        expect(found.join("\n")).toMatch(c.expect);
      });
    });
  }
});

describe("environment-dependent policies", () => {
  it("protect is required for every stateful type in AWS stacks, not in local ones", async () => {
    for (const type of STATEFUL_TYPES) {
      expect(await violations(byName(aws, "stateful-protected-in-prod"), { type })).toHaveLength(1);
      expect(await violations(byName(local, "stateful-protected-in-prod"), { type })).toEqual([]);
    }
  });

  it("containers are not stateful: an unprotected container passes in AWS", async () => {
    expect(
      await violations(byName(aws, "stateful-protected-in-prod"), { type: T.container }),
    ).toEqual([]);
    expect(
      await violations(byName(aws, "stateful-protected-in-prod"), {
        type: "aws:rds/cluster:Cluster",
      }),
    ).toEqual([]);
  });

  it("loopback ports are only required in local stacks", async () => {
    const open = { type: T.container, props: { ports: [{ internal: 80, external: 80 }] } };
    expect(await violations(byName(aws, "local-ports-loopback"), open)).toEqual([]);
    expect(await violations(byName(local, "local-ports-loopback"), open)).toHaveLength(1);
    const v6 = { type: T.container, props: { ports: [{ internal: 80, external: 80, ip: "::1" }] } };
    expect(await violations(byName(local, "local-ports-loopback"), v6)).toEqual([]);
    const all = {
      type: T.container,
      props: { ports: [{ internal: 80, external: 80, ip: "0.0.0.0" }] },
    };
    expect((await violations(byName(local, "local-ports-loopback"), all))[0]).toMatch(
      /"0\.0\.0\.0"/,
    );
  });

  it("ECR repositories are stateful: unprotected in prod is a violation, protected is not", async () => {
    const p = byName(aws, "stateful-protected-in-prod");
    const repo = { type: "aws:ecr/repository:Repository", name: "query-storage" };
    expect(await violations(p, { ...repo, protect: true })).toEqual([]);
    expect((await violations(p, { ...repo, protect: false }))[0]).toMatch(
      /ECR repository \(its images\) "query-storage" must have protect: true/,
    );
  });

  it("policy config overrides the stack's environment", async () => {
    const policies = createPolicies({ stackEnvironment: "local" });
    const res = { type: "docker:index/volume:Volume", config: { environment: "aws" } };
    expect(await violations(byName(policies, "stateful-protected-in-prod"), res)).toHaveLength(1);
  });

  it("an invalid environment is a violation naming the key and value", async () => {
    const policies = createPolicies({ stackEnvironment: "staging" });
    const found = await violations(byName(policies, "stateful-protected-in-prod"), {
      type: "aws:kms/key:Key",
    });
    expect(found).toEqual([
      'cannot tell whether this is a local or an AWS stack: panopticon:environment = "staging": expected "local" or "aws"',
    ]);
  });

  it("resolveEnvironment: config, then stack value, then the project default", () => {
    expect(resolveEnvironment("aws", "local")).toEqual({ ok: true, environment: "aws" });
    expect(resolveEnvironment(undefined, "aws")).toEqual({ ok: true, environment: "aws" });
    expect(resolveEnvironment(undefined, undefined)).toEqual({ ok: true, environment: "local" });
    expect(resolveEnvironment("prod", undefined).ok).toBe(false);
  });
});

describe("other rules' edge cases", () => {
  it("no-public-ingress also covers standalone rules and IPv6", async () => {
    const p = byName(local, "no-public-ingress");
    expect(
      await violations(p, { type: T.ingressRule, props: { cidrIpv6: "::/0", fromPort: 443 } }),
    ).toHaveLength(1);
    expect(await violations(p, { type: T.ingressRule, props: { cidrIpv4: "10.0.0.0/8" } })).toEqual(
      [],
    );
    expect(
      await violations(p, {
        type: T.securityGroupRule,
        props: { type: "ingress", cidrBlocks: ["0.0.0.0/0"] },
      }),
    ).toHaveLength(1);
    expect(
      await violations(p, {
        type: T.securityGroupRule,
        props: { type: "egress", cidrBlocks: ["0.0.0.0/0"] },
      }),
    ).toEqual([]);
  });

  it("no-plaintext-secrets reads base64 user data too", async () => {
    const p = byName(local, "no-plaintext-secrets");
    const script = "#!/bin/bash\nexport DB_PASSWORD=hunter2\n";
    expect(await violations(p, { type: T.ec2Instance, props: { userData: script } })).toHaveLength(
      1,
    );
    expect(
      await violations(p, {
        type: T.ec2Instance,
        props: { userDataBase64: Buffer.from(script).toString("base64") },
      }),
    ).toHaveLength(1);
    const clean = "#!/bin/bash\nPW=$(aws ssm get-parameter --with-decryption --name /x)\n";
    expect(await violations(p, { type: T.ec2Instance, props: { userData: clean } })).toEqual([]);
  });
});

describe("secret-inputs-encrypted (remediation)", () => {
  const remediate = byName(local, "secret-inputs-encrypted").remediateResource!;
  const run = (props: Record<string, unknown>) =>
    remediate({ ...({} as object), type: T.container, props } as never) as
      Record<string, unknown> | undefined;

  it("compliant: secret env entries already wrapped are left alone", () => {
    const props = { envs: [new Secret("POSTGRES_PASSWORD=x"), "LOG_LEVEL=info"] };
    expect(run(props)).toBeUndefined();
  });

  it("non-compliant: plain secret env entries and password props are wrapped as secrets", () => {
    const out = run({
      envs: ["LOG_LEVEL=info", "POSTGRES_PASSWORD=x", "DATABASE_URL=postgres://u:p@db/x"],
      password: "y",
    });
    expect(out).toBeDefined();
    const envs = out!.envs as unknown[];
    expect(envs[0]).toBe("LOG_LEVEL=info");
    expect(envs[1]).toBeInstanceOf(Secret);
    expect((envs[1] as Secret).value).toBe("POSTGRES_PASSWORD=x");
    expect(envs[2]).toBeInstanceOf(Secret);
    expect(out!.password).toBeInstanceOf(Secret);
  });

  it("sees through @pulumi/policy's proxies to the wrapped values", () => {
    const raw = { envs: [new Secret("API_TOKEN=abc")] };
    const proxy = new Proxy(raw, {
      get: (t, p) =>
        p === "__isSpecialProxy" ? true : p === "__getSpecialProxyTarget" ? t : undefined,
    });
    expect(unwrapPolicyProxy(proxy)).toBe(raw);
    expect(markPlainSecrets(unwrapPolicyProxy(proxy) as never).found).toEqual([]);
  });

  it("classifies env entries by name and by inline URL credentials", () => {
    expect(isSecretEnvEntry("POSTGRES_PASSWORD=x")).toBe(true);
    expect(isSecretEnvEntry("GITHUB_TOKEN=x")).toBe(true);
    expect(isSecretEnvEntry("REDIS_URL=redis://:pw@cache:6379")).toBe(true);
    expect(isSecretEnvEntry("POSTGRES_PASSWORD=")).toBe(false);
    expect(isSecretEnvEntry("POSTGRES_PASSWORD_FILE=/run/secrets/pg")).toBe(false);
    expect(isSecretEnvEntry("CHROMA_PERSIST_DIRECTORY=/app/data/chroma")).toBe(false);
  });
});

describe("pack layout for `pulumi preview --policy-pack policy`", () => {
  const dir = path.join(__dirname, "..", "policy");

  it("PulumiPolicy.yaml declares the nodejs runtime", () => {
    const doc = parse(fs.readFileSync(path.join(dir, "PulumiPolicy.yaml"), "utf8"));
    expect(doc.runtime).toBe("nodejs");
  });

  it("policy/package.json has the version PolicyPack reads and points at the entry point", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(fs.existsSync(path.join(dir, pkg.main))).toBe(true);
    expect(pkg.dependencies ?? {}).toEqual({});
  });

  it("resolves the policy runtime from the pack directory through the root node_modules", () => {
    // The nodejs analyzer shim runs `require.resolve('@pulumi/pulumi/cmd/run-policy-pack')`
    // with the pack directory as working directory; Node looks upwards from there.
    for (const mod of ["@pulumi/pulumi/cmd/run-policy-pack", "@pulumi/policy", "@pulumi/pulumi"]) {
      const resolved = require.resolve(mod, { paths: [dir] });
      expect(resolved.startsWith(path.join(dir, "..", "node_modules"))).toBe(true);
    }
  });

  it("lists the pack's policies in a stable order", () => {
    expect(POLICY_NAMES).toEqual(local.map((p) => p.name));
    expect(new Set(POLICY_NAMES).size).toBe(POLICY_NAMES.length);
  });
});
