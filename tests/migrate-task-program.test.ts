import { ecsRun, inputs } from "./support/ecs-harness";

/*
 * The program registers the one-off migration task only where the stack asks for it
 * (panopticon:aws.ecs.migrationTask), under the ECS runtime, and exports where it runs
 * as the `migrationTask` output that migrate-data reads to print `aws ecs run-task`.
 */

const TASK = "panopticon:ecs:MigrationTask";

test("aws.ecs.migrationTask true: the task, its read-only mounts and its output", async () => {
  const run = await ecsRun((aws) => {
    aws.ecs = { ...(aws.ecs as object), migrationTask: true };
  });
  const [task] = run.byType(TASK);
  expect(task.name).toBe("panopticon-migrate");
  expect(task.parent).toMatch(/panopticon:ecs:Runtime::panopticon$/);
  const def = run.resources.find(
    (r) => r.type === "aws:ecs/taskDefinition:TaskDefinition" && r.parent === task.urn,
  )!;
  const containers = JSON.parse(String(inputs(def).containerDefinitions)) as {
    mountPoints?: { readOnly?: boolean }[];
    secrets?: { name: string }[];
  }[];
  const mounts = containers.flatMap((c) => c.mountPoints ?? []);
  expect(mounts.length).toBeGreaterThan(0);
  expect(mounts.every((m) => m.readOnly === true)).toBe(true);
  expect(containers.flatMap((c) => c.secrets ?? []).map((s) => s.name)).toContain("DATABASE_URL");
  expect(run.outputs.migrationTask).toMatchObject({
    cluster: expect.any(String),
    taskDefinition: expect.any(String),
  });
});

test("broken twin: by default (false) nothing of it is registered and no output exists", async () => {
  const run = await ecsRun();
  expect(run.byType(TASK)).toEqual([]);
  expect(run.resources.filter((r) => r.name.startsWith("panopticon-migrate"))).toEqual([]);
  expect(run.outputs.migrationTask).toBeUndefined();
});
