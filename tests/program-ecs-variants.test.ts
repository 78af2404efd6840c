import { efsAccessPointsAndIam, E, internalOnly, singleWriter } from "./support/ecs-rules";
import { appContainer, ecsRun, inputs, Json, service } from "./support/ecs-harness";

/*
 * Variants of the ECS stack, each a config change on Pulumi.prod-ecs.yaml: ChromaDB
 * files on EFS, an existing VPC, a configured service command.
 */

describe("ECS stack variants", () => {
  test("chroma mode keeps the ChromaDB files on EFS: every storage service a single writer", async () => {
    const chroma = await ecsRun((a) => {
      (a.ecs as Json).storageType = "chroma";
      (a.ecs as Json).autoscaling = { default: { min: 1, max: 4, cpuTarget: 60 } };
      a.storage = { judge: "efs", query: "efs", evaluation: "efs", model_registry: "efs" };
    });
    expect(singleWriter(chroma.resources)).toEqual([]);
    expect(efsAccessPointsAndIam(chroma.resources)).toEqual([]);
    expect(chroma.byType(E.accessPoint)).toHaveLength(4);
    for (const svc of ["query-storage", "evaluation-storage", "judge-service", "model-registry"]) {
      expect(inputs(service(chroma, svc)).deploymentMaximumPercent).toBe(100);
    }
    expect(appContainer(chroma, "query-storage").environment).toContainEqual({
      name: "CHROMA_PERSIST_DIRECTORY",
      value: "/app/query_storage_data",
    });
  }, 60_000);

  test("an existing VPC: the load balancer admits that VPC's CIDR, read from AWS", async () => {
    const existing = await ecsRun((a) => {
      a.vpc = {
        id: "vpc-0abc12345def67890",
        privateSubnetIds: ["subnet-0abc12345def67890", "subnet-0123456789abcdef0"],
      };
    });
    const sg = existing.byType(E.sg).find((s) => s.name.endsWith("alb-sg"))!;
    // scripts/bench/mocks.ts answers aws:ec2/getVpc with 10.0.0.0/16.
    expect((inputs(sg).ingress as Json[]).flatMap((r) => r.cidrBlocks as string[])).toEqual([
      "10.0.0.0/16",
      "10.0.0.0/16",
    ]);
    expect(internalOnly(existing.resources)).toEqual([]);
  }, 60_000);

  test("a configured command replaces the image's; by default the image's own runs", async () => {
    expect(appContainer(await ecsRun(), "main-app").command).toBeUndefined();
    const custom = await ecsRun((_, all) => {
      const services = all["panopticon:services"] as Json;
      services["main-app"] = { ...(services["main-app"] as Json), command: ["uvicorn", "app"] };
    });
    expect(appContainer(custom, "main-app").command).toEqual(["uvicorn", "app"]);
  }, 60_000);
});
