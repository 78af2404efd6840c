import { PGVECTOR_INIT, PGVECTOR_SQL } from "../components/runtime/ecs/containers";
import { ProgramRun } from "./support/harness";
import {
  autoscalingBounds,
  containers,
  E,
  ecsProtection,
  efsAccessPointsAndIam,
  internalOnly,
  noPlainSecretEnv,
  Rule,
  singleWriter,
  taskDefOf,
} from "./support/ecs-rules";
import { noPlainSecret } from "./support/rules";
import {
  appContainer,
  doctor,
  ecsRun,
  inputs,
  Json,
  SECRET_ENV,
  SECRETS,
  service,
  swap,
  withContainers,
} from "./support/ecs-harness";

/*
 * The ECS stack (Pulumi.prod-ecs.yaml on the prod stack) under mocks. Every rule of
 * tests/support/ecs-rules.ts runs on the real program (expect none) and on a broken twin of
 * a recording or of the config (expect the violation).
 */

const RULES: Record<string, Rule> = {
  noPlainSecretEnv: noPlainSecretEnv(SECRET_ENV),
  efsAccessPointsAndIam,
  singleWriter,
  internalOnly,
  autoscalingBounds,
  ecsProtection,
};

describe("ECS stack (Pulumi.prod-ecs.yaml)", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await ecsRun();
  }, 60_000);

  test.each(Object.keys(RULES))("rule %s: no violation", (rule) => {
    expect(RULES[rule](run.resources)).toEqual([]);
  });

  test("one ECS service per catalogue service (postgres is RDS), on Fargate in private subnets", () => {
    expect(
      run
        .byType(E.service)
        .map((s) => inputs(s).name)
        .sort(),
    ).toEqual([
      "evaluation-storage",
      "judge-service",
      "main-app",
      "model-registry",
      "query-storage",
      "visualization-service",
    ]);
    const cluster = run.byType(E.cluster)[0];
    expect(inputs(cluster).settings).toEqual([{ name: "containerInsights", value: "enabled" }]);
    for (const s of run.byType(E.service)) {
      expect(inputs(s)).toMatchObject({ launchType: "FARGATE", waitForSteadyState: true });
      const net = inputs(s).networkConfiguration as Json;
      expect((net.subnets as string[]).every((id) => id.startsWith("subnet-"))).toBe(true);
    }
    expect(run.byType("docker:index/container:Container")).toEqual([]);
  });

  test("secrets: values only in Secrets Manager (KMS), referenced through `secrets`", () => {
    for (const [, value] of Object.entries(SECRETS)) {
      expect(noPlainSecret(value)(run.resources)).toEqual([]);
    }
    for (const s of run.byType(E.secret)) {
      expect(inputs(s).kmsKeyId).toMatch(/^arn:aws:kms:/);
    }
    const judge = appContainer(run, "judge-service");
    expect((judge.secrets as Json[]).map((s) => s.name)).toEqual([
      "API_KEY",
      "DATABASE_URL",
      "OPENAI_API_KEY",
      "POSTGRES_PASSWORD",
    ]);
    // Broken twins: a secret moved to the environment; the value unwrapped in state.
    const td = taskDefOf(run.resources, service(run, "judge-service"))!;
    const leaked = withContainers(td, (cs) =>
      cs.map((c) => ({
        ...c,
        environment: [...((c.environment as Json[]) ?? []), { name: "API_KEY", value: "x" }],
      })),
    );
    expect(RULES.noPlainSecretEnv(swap(run.resources, td, leaked))).toContain(
      `${td.name}/judge-service: API_KEY in plain environment`,
    );
    const exposed = run.resources.map((r) => ({ ...r, inputs: r.plainInputs }));
    expect(noPlainSecret(SECRETS.apiKey)(exposed).length).toBeGreaterThan(0);
  });

  test("storage services run on pgvector: stateless, no EFS, autoscaled", () => {
    for (const [svc, env] of [
      ["query-storage", "QUERY_STORAGE_TYPE"],
      ["evaluation-storage", "EVALUATION_STORAGE_TYPE"],
      ["judge-service", "JUDGE_STORAGE_TYPE"],
    ]) {
      const c = appContainer(run, svc);
      expect(c.environment).toContainEqual({ name: env, value: "postgres" });
      expect(c.mountPoints).toEqual([]);
      expect(inputs(service(run, svc)).deploymentMaximumPercent).toBe(200);
    }
    const judgeScaling = run
      .byType(E.scalingTarget)
      .find((t) => t.dependencies.includes(service(run, "judge-service").urn))!;
    expect(inputs(judgeScaling)).toMatchObject({ minCapacity: 2, maxCapacity: 8 });
  });

  test("model-registry: EFS access point with its owner, TLS and IAM; a single writer", () => {
    const svc = service(run, "model-registry");
    expect(inputs(svc)).toMatchObject({
      desiredCount: 1,
      deploymentMinimumHealthyPercent: 0,
      deploymentMaximumPercent: 100,
    });
    const ap = run.byType(E.accessPoint);
    expect(ap).toHaveLength(1);
    expect(inputs(ap[0]).rootDirectory).toEqual({
      path: "/prod/model_registry",
      creationInfo: { ownerUid: 0, ownerGid: 0, permissions: "0750" },
    });
    expect(appContainer(run, "model-registry").mountPoints).toEqual([
      {
        sourceVolume: "model_registry",
        containerPath: "/app/model_registry_data",
        readOnly: false,
      },
    ]);
    // Broken twins.
    const td = taskDefOf(run.resources, svc)!;
    const vol = (inputs(td).volumes as Json[])[0];
    const cfg = vol.efsVolumeConfiguration as Json;
    const noTls = doctor(td, {
      volumes: [{ ...vol, efsVolumeConfiguration: { ...cfg, transitEncryption: "DISABLED" } }],
    });
    expect(efsAccessPointsAndIam(swap(run.resources, td, noTls))).toContain(
      `${td.name}: transitEncryption off`,
    );
    const noIam = doctor(td, {
      volumes: [
        { ...vol, efsVolumeConfiguration: { ...cfg, authorizationConfig: { accessPointId: "x" } } },
      ],
    });
    expect(efsAccessPointsAndIam(swap(run.resources, td, noIam))).toContain(
      `${td.name}: IAM authorisation off`,
    );
    const grant = run
      .byType(E.rolePolicy)
      .find((p) => String(inputs(p).policy).includes("elasticfilesystem:Client"))!;
    const wide = doctor(grant, {
      policy: JSON.stringify({
        Statement: [{ Effect: "Allow", Action: "elasticfilesystem:ClientWrite", Resource: "*" }],
      }),
    });
    expect(efsAccessPointsAndIam(swap(run.resources, grant, wide))).toContain(
      `${grant.name}: mounts without an access point condition`,
    );
    const other = doctor(grant, {}, { dependencies: [] });
    expect(efsAccessPointsAndIam(swap(run.resources, grant, other))).toContain(
      `${grant.name}: grants no access point, not its own`,
    );
    const noFsPolicy = run.resources.filter((r) => r.type !== E.fsPolicy);
    expect(efsAccessPointsAndIam(noFsPolicy)).toEqual([
      "EFS: no file system policy refusing mounts without TLS (anonymous NFS allowed)",
    ]);
    const twoWriters = doctor(svc, { deploymentMaximumPercent: 200 });
    expect(singleWriter(swap(run.resources, svc, twoWriters))).toEqual([
      `${svc.name}: maximum 200%`,
    ]);
    const scaled = doctor(svc, { desiredCount: 2 });
    expect(singleWriter(swap(run.resources, svc, scaled))).toEqual([`${svc.name}: desiredCount 2`]);
  });

  test("internal only: HTTPS from the ACM certificate, no public IP, no open ingress", () => {
    const lb = run.byType(E.lb)[0];
    expect(inputs(lb)).toMatchObject({ internal: true, loadBalancerType: "application" });
    const listeners = run.byType(E.listener);
    expect(listeners.map((l) => inputs(l).port).sort()).toEqual([443, 8443]);
    for (const l of listeners) {
      expect(inputs(l).certificateArn).toBe(
        "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666",
      );
    }
    const sg = run.byType(E.sg).find((s) => s.name.endsWith("alb-sg"))!;
    expect((inputs(sg).ingress as Json[]).flatMap((r) => r.cidrBlocks as string[])).toEqual([
      "10.42.0.0/16",
      "10.42.0.0/16",
    ]);
    expect(internalOnly(swap(run.resources, lb, doctor(lb, { internal: false })))).toEqual([
      `${lb.name}: not internal`,
    ]);
    const l = listeners[0];
    expect(internalOnly(swap(run.resources, l, doctor(l, { protocol: "HTTP" })))).toEqual([
      `${l.name}: HTTP listener`,
    ]);
    const open = doctor(sg, { ingress: [{ cidrBlocks: ["0.0.0.0/0"] }] });
    expect(internalOnly(swap(run.resources, sg, open))).toEqual([`${sg.name}: ingress 0.0.0.0/0`]);
    const svc = run.byType(E.service)[0];
    const publicIp = doctor(svc, { networkConfiguration: { assignPublicIp: true } });
    expect(internalOnly(swap(run.resources, svc, publicIp))).toEqual([`${svc.name}: public IP`]);
  });

  test("security groups: port 8000 only from the services that call it, and the load balancer", () => {
    const rules = run.byType(E.ingressRule);
    const from = (svc: string) =>
      rules
        .filter((r) => r.name.startsWith(`panopticon-${svc}-from-`))
        .map((r) => r.name.slice(`panopticon-${svc}-from-`.length))
        .sort();
    expect(from("query-storage")).toEqual(["judge-service", "main-app"]);
    expect(from("evaluation-storage")).toEqual(["judge-service", "main-app"]);
    expect(from("judge-service")).toEqual(["main-app"]);
    // compose (e342b64) gives judge-service no MODEL_REGISTRY_URL: nothing calls it.
    expect(from("model-registry")).toEqual([]);
    expect(from("main-app")).toEqual(["load-balancer"]);
    expect(from("visualization-service")).toEqual(["load-balancer"]);
    for (const r of rules) {
      expect(inputs(r)).toMatchObject({ ipProtocol: "tcp", fromPort: 8000, toPort: 8000 });
      expect(inputs(r).cidrIpv4).toBeUndefined();
      expect(String(inputs(r).referencedSecurityGroupId)).toMatch(/^sg-/);
    }
  });

  test("Service Connect keeps compose's URLs: each service answers as http://<name>:8000", () => {
    for (const s of run.byType(E.service)) {
      const sc = inputs(s).serviceConnectConfiguration as Json;
      expect(sc.enabled).toBe(true);
      expect(sc.services).toEqual([
        expect.objectContaining({ clientAlias: [{ port: 8000, dnsName: inputs(s).name }] }),
      ]);
    }
    expect(appContainer(run, "main-app").environment).toContainEqual({
      name: "QUERY_STORAGE_URL",
      value: "http://query-storage:8000",
    });
  });

  test("start order: a service is created after the services it depends on", () => {
    const dependsOn = (a: string, b: string) =>
      service(run, a).dependencies.includes(service(run, b).urn);
    expect(dependsOn("main-app", "query-storage")).toBe(true);
    expect(dependsOn("main-app", "evaluation-storage")).toBe(true);
    expect(dependsOn("judge-service", "query-storage")).toBe(true);
    expect(dependsOn("visualization-service", "judge-service")).toBe(true);
  });

  test("pgvector: a one-shot container enables the extension before each database service", () => {
    const td = taskDefOf(run.resources, service(run, "visualization-service"))!;
    const [app, init] = containers(td);
    expect(app.dependsOn).toEqual([{ containerName: PGVECTOR_INIT, condition: "SUCCESS" }]);
    expect(init).toMatchObject({ name: PGVECTOR_INIT, essential: false });
    expect((init.command as string[]).join(" ")).toContain(PGVECTOR_SQL);
    expect(containers(taskDefOf(run.resources, service(run, "main-app"))!)).toHaveLength(1);
  });

  test("logs: a log group per service, retention from config, its own KMS key", () => {
    const groups = run.byType(E.logGroup);
    expect(groups.map((g) => inputs(g).name).sort()).toEqual(
      [
        "evaluation-storage",
        "judge-service",
        "main-app",
        "model-registry",
        "query-storage",
        "visualization-service",
      ].map((s) => `/panopticon/prod/${s}`),
    );
    const logsKey = run.byType(E.kms).find((k) => k.name.endsWith("logs-key"))!;
    expect([logsKey.protect, logsKey.retainOnDelete]).toEqual([true, true]);
    for (const g of groups) {
      expect(inputs(g).retentionInDays).toBe(90);
      expect(g.dependencies).toContain(logsKey.urn);
    }
  });

  test("autoscaling bounds, and their broken twins", () => {
    const t = run.byType(E.scalingTarget)[0];
    expect(autoscalingBounds(swap(run.resources, t, doctor(t, { minCapacity: 5 })))).toContain(
      `${t.name}: min 5 > max ${inputs(t).maxCapacity}`,
    );
    const svc = run.byType(E.service).find((s) => s.ignoreChanges.includes("desiredCount"))!;
    const unscaled = run.resources.filter(
      (r) => !(r.type === E.scalingTarget && r.dependencies.includes(svc.urn)),
    );
    expect(autoscalingBounds(unscaled)).toContain(`${svc.name}: stateless but not autoscaled`);
  });

  test("protection: RDS, EFS, KMS, ECR, secrets kept; cluster, services, ALB hold no data", () => {
    for (const type of [E.ecr, E.secret, E.secretVersion, E.bucket, E.kms]) {
      const r = run.byType(type)[0];
      expect(r).toBeDefined();
      expect(ecsProtection(swap(run.resources, r, { ...r, protect: false }))).toEqual([
        `${r.name}: not protected`,
      ]);
    }
    for (const type of [E.cluster, E.service, E.taskDef, E.lb]) {
      const r = run.byType(type)[0];
      expect([r.protect, r.retainOnDelete]).toEqual([false, false]);
      expect(ecsProtection(swap(run.resources, r, { ...r, protect: true }))).toEqual([
        `${r.name}: holds no data but is protected or retained`,
      ]);
    }
  });
});
