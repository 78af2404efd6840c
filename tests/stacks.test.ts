import { cliStackConfig, runProgram } from "./support/harness";

/*
 * Each committed stack file run the way the Pulumi CLI would run it: with the
 * project defaults of Pulumi.yaml applied under the stack's own values.
 */
test.each([
  ["dev", "docker:index/container:Container", "panopticon-dev-postgres"],
  ["prod", "aws:rds/instance:Instance", "panopticon-prod-postgres"],
])("stack %s starts with the CLI's view of its config", async (stack, type, name) => {
  const run = await runProgram({ stack, config: cliStackConfig(stack) });
  if (run.error) throw run.error;
  const names = run.byType(type).map((r) => r.plainInputs.name ?? r.plainInputs.identifier);
  expect(names).toContain(name);
});
