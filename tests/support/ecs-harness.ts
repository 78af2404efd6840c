import { cliStackConfig, ProgramRun, RecordedResource, runProgram } from "./harness";
import { containers, E, taskDefOf } from "./ecs-rules";

/*
 * Runs of the ECS stack (Pulumi.prod-ecs.yaml, as stack "prod") for the ECS tests,
 * and small helpers to read and doctor what they recorded.
 */

export type Json = Record<string, unknown>;
export const SECRETS = {
  postgresPassword: "ecsTestPassw0rd1234567",
  apiKey: "api-key-in-the-clear-1234",
  openaiApiKey: "sk-openai-in-the-clear-5678",
};
export const SECRET_ENV = ["API_KEY", "OPENAI_API_KEY", "GOOGLE_API_KEY", "ANTHROPIC_API_KEY"];

export function ecsConfig(patch: (aws: Json, all: Json) => void = () => {}): Json {
  const config = structuredClone(cliStackConfig("prod-ecs")) as Json;
  patch(config["panopticon:aws"] as Json, config);
  return config;
}

export async function ecsRun(patch?: (aws: Json, all: Json) => void): Promise<ProgramRun> {
  const run = await runProgram({ stack: "prod", config: ecsConfig(patch), secrets: SECRETS });
  if (run.error) throw run.error;
  return run;
}

export const inputs = (r: RecordedResource) => r.plainInputs as Json;
export const doctor = (r: RecordedResource, patch: Json, opts: Partial<RecordedResource> = {}) =>
  ({ ...r, ...opts, plainInputs: { ...r.plainInputs, ...patch } }) as RecordedResource;
export const swap = (all: readonly RecordedResource[], a: RecordedResource, b: RecordedResource) =>
  all.map((r) => (r === a ? b : r));
export const service = (run: ProgramRun, name: string) =>
  run.byType(E.service).find((s) => inputs(s).name === name)!;
export const appContainer = (run: ProgramRun, name: string) =>
  containers(taskDefOf(run.resources, service(run, name))!).find((c) => c.name === name)!;
/** A task definition with its container definitions rewritten. */
export const withContainers = (td: RecordedResource, f: (cs: Json[]) => Json[]) =>
  doctor(td, { containerDefinitions: JSON.stringify(f(containers(td))) });
