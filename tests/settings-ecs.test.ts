import { fargateSize } from "../components/config/fargate-size";
import { topologicalOrder } from "../components/config/ecs-plan";
import { readProject, withServices } from "../scripts/bench/project";
import { cliStackConfig, PROJECT_DIR, runProgram } from "./support/harness";

/*
 * Bad ECS config: a clear error naming key, value and expectation, and not one
 * resource registered (the whole program runs under mocks and is watched).
 */

type Json = Record<string, unknown>;

function config(patch: (aws: Json) => void): Json {
  const c = structuredClone(cliStackConfig("prod-ecs")) as Json;
  patch(c["panopticon:aws"] as Json);
  return c;
}

async function refused(patch: (aws: Json) => void): Promise<string> {
  const run = await runProgram({ stack: "prod", config: config(patch) });
  // The program ran in its own module registry: compare by name, not by class.
  expect(run.error?.name).toBe("ConfigError");
  expect(run.resources).toEqual([]);
  return run.error!.message;
}

const ecs = (a: Json) => a.ecs as Json;

describe("bad ECS config registers nothing", () => {
  test("unknown runtime", async () => {
    const msg = await refused((a) => (a.runtime = "kubernetes"));
    expect(msg).toContain(
      'panopticon:aws.runtime = "kubernetes": expected one of "docker-host", "ecs"',
    );
  });

  test("runtime ecs without its block, and the block without runtime ecs", async () => {
    expect(await refused((a) => delete a.ecs)).toContain(
      'panopticon:aws.ecs = (missing): expected the ecs settings (at least certificateArn) for runtime "ecs"',
    );
    expect(await refused((a) => delete a.runtime)).toContain(
      'applies to runtime "ecs" only (runtime is "docker-host")',
    );
  });

  test("autoscaling min > max", async () => {
    const msg = await refused(
      (a) =>
        (ecs(a).autoscaling = {
          default: { min: 5, max: 2, cpuTarget: 60 },
        }),
    );
    expect(msg).toContain(
      "panopticon:aws.ecs.autoscaling.default.min = 5: expected min (5) to be at most max (2)",
    );
  });

  test("a single writer with max > 1", async () => {
    const msg = await refused(
      (a) =>
        (ecs(a).autoscaling = {
          services: { "model-registry": { min: 1, max: 3, cpuTarget: 60 } },
        }),
    );
    expect(msg).toContain(
      "panopticon:aws.ecs.autoscaling.services.model-registry.max = 3: model-registry writes files on EFS (data set model_registry) and must run as one task: expected max 1, or remove the entry",
    );
  });

  test("an unknown service in a security rule", async () => {
    const msg = await refused((a) => (ecs(a).allow = { "query-storage": ["reporting"] }));
    expect(msg).toContain(
      'panopticon:aws.ecs.allow.query-storage[0] = "reporting": no such service (known: evaluation-storage, judge-service, main-app, model-registry, query-storage, visualization-service)',
    );
    expect(await refused((a) => (ecs(a).allow = { reporting: ["main-app"] }))).toContain(
      'panopticon:aws.ecs.allow.reporting = "reporting": no such service',
    );
  });

  test("an open load balancer, a bad certificate, a bad log retention", async () => {
    expect(await refused((a) => (ecs(a).albAllowedCidrs = ["0.0.0.0/0"]))).toContain(
      'panopticon:aws.ecs.albAllowedCidrs.0 = "0.0.0.0/0": must not open the load balancer to every address (/0); it is internal only',
    );
    expect(await refused((a) => (ecs(a).certificateArn = "my-cert"))).toContain(
      'panopticon:aws.ecs.certificateArn = "my-cert": expected an ACM certificate ARN',
    );
    expect(
      await refused(
        (a) =>
          (ecs(a).certificateArn =
            "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"),
      ),
    ).toContain("expected a certificate in the stack's region eu-west-1");
    expect(await refused((a) => (ecs(a).logRetentionDays = 10))).toContain(
      "panopticon:aws.ecs.logRetentionDays = 10: expected one of the periods CloudWatch accepts",
    );
  });

  test("chroma files on EBS, which Fargate cannot mount", async () => {
    expect(await refused((a) => (ecs(a).storageType = "chroma"))).toContain(
      'panopticon:aws.storage.judge = "ebs": judge-service keeps files, and on Fargate only EFS persists them: expected "efs"',
    );
  });

  test("an image without a digest", async () => {
    const c = config(() => {});
    const services = c["panopticon:services"] as Json;
    services["main-app"] = { image: "ghcr.io/panopticon-ai/main-app:latest" };
    const run = await runProgram({ stack: "prod", config: c });
    expect(run.resources).toEqual([]);
    expect(run.error?.message).toContain(
      'panopticon:services.main-app.image = "ghcr.io/panopticon-ai/main-app:latest": the ECS runtime runs images by digest',
    );
  });
});

describe("ECS planning helpers", () => {
  test("fargateSize: the smallest valid task that holds the limits", () => {
    expect(fargateSize(0.5, 512)).toEqual({
      taskCpu: 512,
      taskMemory: 1024,
      cpu: 512,
      memoryMb: 512,
    });
    expect(fargateSize(1, 1024 + 128)).toMatchObject({ taskCpu: 1024, taskMemory: 2048 });
    expect(fargateSize(0.25, 512)).toMatchObject({ taskCpu: 256, taskMemory: 512 });
    expect(fargateSize(0.25, 5000)).toMatchObject({ taskCpu: 1024, taskMemory: 5120 });
    expect(() => fargateSize(32, 1024)).toThrow("no Fargate size holds 32 vCPU");
  });

  test("topologicalOrder: dependencies first; a cycle is a problem", () => {
    const problems: string[] = [];
    expect(
      topologicalOrder(
        [
          { name: "a", dependsOn: ["b"] },
          { name: "b", dependsOn: [] },
          { name: "c", dependsOn: ["a", "b"] },
        ],
        problems,
      ),
    ).toEqual(["b", "a", "c"]);
    expect(problems).toEqual([]);
    topologicalOrder(
      [
        { name: "a", dependsOn: ["b"] },
        { name: "b", dependsOn: ["a"] },
      ],
      problems,
    );
    expect(problems).toEqual([
      "panopticon:services: dependsOn forms a cycle a -> b -> a: expected a start order (depends_on without cycles)",
    ]);
  });
});

describe("the bench's generated ECS services", () => {
  test("are digest-pinned EFS single writers the program accepts", async () => {
    const project = readProject(PROJECT_DIR);
    const config = withServices(project, cliStackConfig("prod-ecs"), 9);
    const aws = config["panopticon:aws"] as Json;
    expect((aws.storage as Json).bench_svc_001).toBe("efs");
    const run = await runProgram({ stack: "prod", config });
    if (run.error) throw run.error;
    const services = run.byType("aws:ecs/service:Service").map((s) => s.plainInputs as Json);
    const bench = services.filter((s) => String(s.name).startsWith("bench-svc-"));
    // 9 = the 7 catalogue services (postgres among them: RDS on AWS) + 2 generated.
    expect(bench).toHaveLength(2);
    for (const s of bench) {
      expect(s).toMatchObject({ desiredCount: 1, deploymentMaximumPercent: 100 });
    }
  }, 60_000);
});
