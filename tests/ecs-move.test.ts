import * as fs from "fs";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import { parse } from "yaml";
import { isStatefulType } from "../policy/stateful";
import { classifyPreview } from "../scripts/guard/classify";
import { PreviewInput, StepRecord, dataAtRisk } from "../scripts/guard/types";
import {
  cliStackConfig,
  PROJECT_DIR,
  ProgramRun,
  RecordedResource,
  runProgram,
} from "./support/harness";

/*
 * Moving prod from the Docker host to ECS is a config change on the same stack:
 * Pulumi.prod.yaml → Pulumi.prod-ecs.yaml. Both configs run as stack "prod" under
 * mocks; every stateful resource of the Docker-host program must be registered by
 * the ECS program under the same URN with the same inputs (so the engine plans no
 * replace), and the guard, given the step list that diff implies, finds no data at risk.
 */

const SECRETS = { postgresPassword: "moveTestPassw0rd123456" };
type Json = Record<string, unknown>;

async function run(config: Json): Promise<ProgramRun> {
  const r = await runProgram({ stack: "prod", config, secrets: SECRETS });
  if (r.error) throw r.error;
  return r;
}

/** Resources that keep data, or keep what keeps it (the backup policy, the snapshot suffix). */
const kept = (r: RecordedResource) => r.custom && (isStatefulType(r.type) || r.protect);

/** Docker objects on the host: the runbook unprotects them, their data lives on EFS/EBS. */
const onHost = (r: RecordedResource) => r.type.startsWith("docker:");

/**
 * The URN the engine would give: the mock monitor names only the direct parent's type,
 * the engine every ancestor's, so the chain is rebuilt from the recorded parents.
 */
function engineUrn(r: RecordedResource, all: readonly RecordedResource[]): string {
  const byUrn = new Map(all.map((x) => [x.urn, x]));
  const types: string[] = [];
  for (let p = byUrn.get(r.parent); p !== undefined; p = byUrn.get(p.parent)) {
    if (p.type !== "pulumi:pulumi:Stack") types.unshift(p.type);
  }
  return [...types, r.type].join("$") + "::" + r.name;
}

/** What the move does to each stateful resource of `before`: empty = kept as is. */
function moveProblems(before: readonly RecordedResource[], after: readonly RecordedResource[]) {
  const byUrn = new Map(after.map((r) => [engineUrn(r, after), r]));
  return before
    .filter((r) => kept(r) && !onHost(r))
    .flatMap((r) => {
      const a = byUrn.get(engineUrn(r, before));
      if (a === undefined) return [`${r.name}: not registered after the move (deleted)`];
      const out: string[] = [];
      if (!isDeepStrictEqual(a.plainInputs, r.plainInputs)) out.push(`${r.name}: inputs changed`);
      if (a.protect !== r.protect || a.retainOnDelete !== r.retainOnDelete)
        out.push(`${r.name}: protection changed`);
      if (a.importId !== r.importId) out.push(`${r.name}: import changed`);
      return out;
    });
}

/** The steps a preview of the move would show, as the guard reads them. */
function movePreview(
  before: readonly RecordedResource[],
  after: readonly RecordedResource[],
  unprotected: (r: RecordedResource) => boolean,
): PreviewInput {
  const afterByUrn = new Map(after.filter((r) => r.custom).map((r) => [r.urn, r]));
  const beforeUrns = new Set(before.map((r) => r.urn));
  const flags = (r: RecordedResource, unprotect = false) => ({
    type: r.type,
    protect: unprotect ? false : r.protect,
    retainOnDelete: r.retainOnDelete,
  });
  const steps: StepRecord[] = [];
  for (const b of before.filter((r) => r.custom)) {
    const a = afterByUrn.get(b.urn);
    const op =
      a === undefined
        ? "delete"
        : isDeepStrictEqual(a.plainInputs, b.plainInputs)
          ? "same"
          : "update";
    steps.push({
      op,
      urn: b.urn,
      type: b.type,
      old: flags(b, unprotected(b)),
      new: a && flags(a),
      replaceReasons: [],
      source: "move",
    });
  }
  for (const a of afterByUrn.values()) {
    if (beforeUrns.has(a.urn)) continue;
    steps.push({
      op: "create",
      urn: a.urn,
      type: a.type,
      new: flags(a),
      replaceReasons: [],
      source: "move",
    });
  }
  return { steps, errors: [], policyViolations: [], sources: ["move"] };
}

const read = (stack: string) =>
  (
    parse(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8")) as {
      config: Json;
    }
  ).config;

describe("moving prod from the Docker host to ECS", () => {
  let host: ProgramRun;
  let ecs: ProgramRun;
  beforeAll(async () => {
    host = await run(cliStackConfig("prod"));
    ecs = await run(cliStackConfig("prod-ecs"));
  }, 90_000);

  test("the change is the runtime and the ecs block, nothing else", () => {
    const prod = read("prod");
    const moved = read("prod-ecs");
    const { runtime, ecs: block, ...restAws } = moved["panopticon:aws"] as Json;
    expect(runtime).toBe("ecs");
    expect(block).toBeDefined();
    expect({ ...moved, "panopticon:aws": restAws }).toEqual(prod);
  });

  test("RDS, EFS, the KMS key and the EBS disk keep their URN and inputs: nothing is replaced", () => {
    for (const type of [
      "aws:rds/instance:Instance",
      "aws:efs/fileSystem:FileSystem",
      "aws:efs/backupPolicy:BackupPolicy",
      "aws:kms/key:Key",
      "aws:ebs/volume:Volume",
      "random:index/randomId:RandomId",
    ]) {
      const [b] = host.byType(type);
      const a = ecs.resources.find((r) => r.urn === b.urn);
      expect(a).toBeDefined();
      expect(a!.plainInputs).toEqual(b.plainInputs);
    }
    expect(moveProblems(host.resources, ecs.resources)).toEqual([]);
  });

  test("the guard, on the move's steps after the runbook's unprotect, says no data at risk", () => {
    const report = classifyPreview(movePreview(host.resources, ecs.resources, onHost));
    expect(dataAtRisk(report)).toBe(false);
    const byName = Object.fromEntries(report.verdicts.map((v) => [v.name, v.classification]));
    expect(byName["panopticon-aws-postgres-instance"]).toBe("kept");
    expect(byName["panopticon-aws-efs-fs"]).toBe("kept");
    // The host's NFS volume object goes; its files stay on EFS (and the object is retained).
    expect(byName["panopticon-model-registry-volume"]).toBe("deleted-retained");
  });

  test("broken twins: a changed RDS input, a dropped disk, an unretained host volume", async () => {
    const rds = ecs.byType("aws:rds/instance:Instance")[0];
    const changed = ecs.resources.map((r) =>
      r === rds ? { ...r, plainInputs: { ...r.plainInputs, identifier: "other" } } : r,
    );
    expect(moveProblems(host.resources, changed)).toEqual([`${rds.name}: inputs changed`]);
    // Moving the instance under another component changes its engine URN: a replace.
    const reparented = ecs.resources.map((r) =>
      r === rds ? { ...r, parent: ecs.byType("panopticon:ecs:Runtime")[0].urn } : r,
    );
    expect(moveProblems(host.resources, reparented)).toEqual([
      `${rds.name}: not registered after the move (deleted)`,
    ]);

    const dropDisk = await run(
      (() => {
        const c = structuredClone(cliStackConfig("prod-ecs"));
        ((c["panopticon:aws"] as Json).ecs as Json).keepHostDataDisk = false;
        return c;
      })(),
    );
    const problems = moveProblems(host.resources, dropDisk.resources);
    expect(problems).toContain(
      "panopticon-aws-data-disk-volume: not registered after the move (deleted)",
    );

    const volume = host.resources.find((r) => r.type === "docker:index/volume:Volume")!;
    const unretained = host.resources.map((r) =>
      r === volume ? { ...r, retainOnDelete: false } : r,
    );
    const report = classifyPreview(movePreview(unretained, ecs.resources, onHost));
    expect(dataAtRisk(report)).toBe(true);
  }, 60_000);
});
