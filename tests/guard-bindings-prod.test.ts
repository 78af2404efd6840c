import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { classifyPreview } from "../scripts/guard/classify";
import { parsePreviewText } from "../scripts/guard/parse";
import { runGuard } from "../scripts/guard/run";
import { ProgramRun, runProgram, promotedStackFile } from "./support/harness";
import { eventLog, previewDigest } from "./support/preview-builder";

/*
 * The data-binding rules of the guard on prod previews built from two runs of
 * the program under mocks: the host's EBS attachment, the host's data mount and
 * the RDS major.
 */

type Json = Record<string, unknown>;
const STACK_FILE = promotedStackFile("Pulumi.prod.yaml") as {
  config: Json;
};
// Each case runs the whole prod program twice or three times under mocks.
jest.setTimeout(60_000);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "guard-bindings-prod-"));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

async function prod(aws: Json = {}): Promise<ProgramRun> {
  const config = structuredClone(STACK_FILE.config);
  const block = config["panopticon:aws"] as Json;
  for (const [k, v] of Object.entries(aws)) {
    block[k] = typeof v === "object" && v !== null ? { ...(block[k] as Json), ...v } : v;
  }
  const r = await runProgram({ stack: "prod", config });
  if (r.error) throw r.error;
  return r;
}

let n = 0;
function guard(before: ProgramRun, after: ProgramRun, format: "json" | "events") {
  const file = path.join(TMP, `p-${n++}`);
  fs.writeFileSync(
    file,
    format === "json" ? previewDigest(before, after) : eventLog(before, after),
  );
  return runGuard(format === "json" ? { preview: [file] } : { eventLog: [file] });
}

describe.each(["json", "events"] as const)("prod data bindings (%s)", (format) => {
  it("another EBS volume attached to the host detaches the ebs data sets", async () => {
    const before = await prod();
    const after = await prod({ adopt: { ebsVolumeId: "vol-0123456789abcdef0" } });
    const r = guard(before, after, format);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /AT RISK\s+detached: the service starts without its data\s+EBS attachment/,
    );
    expect(r.stdout).toMatch(/data disk changes from vol-\S+ to vol-0123456789abcdef0/);
  });

  it("a moved host data mount is detached; the same mount twice is not", async () => {
    const before = await prod();
    const moved = guard(before, await prod({ dataMountPath: "/mnt/other" }), format);
    expect(moved.exitCode).toBe(1);
    expect(moved.stdout).toMatch(
      /AT RISK\s+detached: the service starts without its data\s+Docker host data mount/,
    );
    expect(moved.stdout).toMatch(/at \/mnt\/panopticon-data to \S+ at \/mnt\/other/);
    const same = guard(before, await prod(), format);
    expect(same.exitCode).toBe(0);
  });

  it("an RDS engineVersion major change without a planned upgrade is at risk", async () => {
    const before = await prod({ rds: { engineVersion: "15" } });
    const r = guard(before, await prod({ rds: { engineVersion: "16" } }), format);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/AT RISK\s+major version upgrade not planned\s+RDS instance/);
    expect(r.stdout).toMatch(/engineVersion 15 -> 16 .*allowMajorVersionUpgrade/);
    expect(r.stdout).toMatch(/config key panopticon:aws\.rds\.allowMajorVersionUpgrade/);
    expect(r.stdout).toMatch(/npm run pg-upgrade -- --stack prod --to 16/);
  });

  it("its compliant twin: the config key aws.rds.allowMajorVersionUpgrade plans the upgrade", async () => {
    const before = await prod({ rds: { engineVersion: "15" } });
    const after = await prod({ rds: { engineVersion: "16", allowMajorVersionUpgrade: true } });
    const r = guard(before, after, format);
    expect(r.stdout).not.toMatch(/major version upgrade not planned/);
    expect(r.stdout).toMatch(/planned major version upgrade/);
    expect(r.exitCode).toBe(0);
  });
});

describe("RDS major upgrades that are planned", () => {
  const RDS_URN =
    "urn:pulumi:prod::panopticon::panopticon:database:RdsPostgres$aws:rds/instance:Instance::panopticon-db";
  const step = (newInputs: Json, oldOutputs: Json = { engineVersion: "15.7" }) =>
    JSON.stringify({
      steps: [
        {
          op: "update",
          urn: RDS_URN,
          oldState: {
            urn: RDS_URN,
            type: "aws:rds/instance:Instance",
            custom: true,
            protect: true,
            inputs: { engineVersion: "15" },
            outputs: oldOutputs,
          },
          newState: {
            urn: RDS_URN,
            type: "aws:rds/instance:Instance",
            custom: true,
            protect: true,
            inputs: { engineVersion: "16", ...newInputs },
          },
        },
      ],
    });
  const verdict = (text: string) => classifyPreview(parsePreviewText(text, "t.json")).verdicts[0];

  it("allowMajorVersionUpgrade: true makes it planned, not at risk", () => {
    const v = verdict(step({ allowMajorVersionUpgrade: true }));
    expect(v.classification).toBe("major-planned");
    expect(v.atRisk).toBe(false);
  });

  it("a server already upgraded (refreshed outputs on 16) is planned", () => {
    expect(verdict(step({}, { engineVersion: "16.3" })).classification).toBe("major-planned");
  });

  it("neither: unplanned", () => {
    expect(verdict(step({})).classification).toBe("major-unplanned");
  });
});

describe.each(["json", "events"] as const)("ECS data bindings (%s)", (format) => {
  const ECS_FILE = promotedStackFile("Pulumi.prod-ecs.yaml") as { config: Json };
  async function ecs(patch: (config: Json) => void = () => undefined): Promise<ProgramRun> {
    const config = structuredClone(ECS_FILE.config);
    patch(config);
    const r = await runProgram({ stack: "prod", config });
    if (r.error) throw r.error;
    return r;
  }
  const services = (c: Json) => c["panopticon:services"] as Record<string, Json>;

  it("a changed mount path in the task definition detaches the ECS service; the same one twice does not", async () => {
    // ChromaDB files on EFS, one task per storage service (the chroma layout).
    const chroma = (c: Json) => {
      const aws = c["panopticon:aws"] as Json;
      aws.ecs = {
        ...(aws.ecs as Json),
        storageType: "chroma",
        autoscaling: { default: { min: 1, max: 4, cpuTarget: 60 } },
      };
      aws.storage = { judge: "efs", query: "efs", evaluation: "efs", model_registry: "efs" };
    };
    const before = await ecs(chroma);
    const moved = await ecs((c) => {
      chroma(c);
      services(c)["query-storage"] = {
        ...services(c)["query-storage"],
        data: { path: "/app/elsewhere" },
      };
    });
    const r = guard(before, moved, format);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /AT RISK\s+detached: the service starts without its data\s+ECS task definition/,
    );
    expect(r.stdout).toMatch(
      /mounted volume query at \S+; this preview mounts volume query at \/app\/elsewhere/,
    );
    expect(guard(before, await ecs(chroma), format).exitCode).toBe(0);
  });

  it("an access point rooted elsewhere (a renamed data set) detaches its tasks", async () => {
    const before = await ecs();
    const renamed = await ecs((c) => {
      services(c)["model-registry"] = {
        ...services(c)["model-registry"],
        data: { set: "registry" },
      };
      const aws = c["panopticon:aws"] as Json;
      const storage = { ...(aws.storage as Json) };
      delete storage.model_registry;
      aws.storage = { ...storage, registry: "efs" };
    });
    const r = guard(before, renamed, format);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/EFS access point's root moves from \S+ to \S+: the ECS tasks/);
  });
});
