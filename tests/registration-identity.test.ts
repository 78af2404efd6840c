import * as fs from "fs";
import * as path from "path";
import { cliStackConfig, RecordedResource, runProgram } from "./support/harness";
import { compareRuns, movedStateful, Registration, registrations } from "./support/registrations";

/*
 * Moving code must not move infrastructure. Each committed stack's registrations were
 * recorded before the restructuring (tests/fixtures/registrations/, written by
 * `RECORD_REGISTRATIONS=1 npx jest registration-identity`); a run now must register the
 * same resources with the same type, name, parent, inputs and options. A resource may
 * change its URN only through an alias naming the old one, and only if it is listed in
 * MOVES below; a stateful resource may not change its URN at all.
 */

const SECRETS = {
  postgresPassword: "identityTestPassw0rd123",
  apiKey: "identity-api-key-1234",
  openaiApiKey: "sk-identity-openai-5678",
};
const RECORDS = path.join(__dirname, "fixtures", "registrations");

const URN = "urn:pulumi:prod::panopticon::";
const ENV = "panopticon:aws:Environment";
const HOST_RUNTIME = "panopticon:docker-host:Runtime";

/** The deliberate moves: before-URN → after-URN, each reached by an alias. */
const MOVES: Record<string, Record<string, string>> = {
  dev: {},
  // The Docker host and its providers belong to the docker-host runtime now
  // (components/runtime/docker-host/runtime.ts), no longer to the shared AWS layer.
  prod: {
    [`${URN}${ENV}$panopticon:aws:DockerHost::panopticon-aws-host`]: `${URN}${HOST_RUNTIME}$panopticon:aws:DockerHost::panopticon-aws-host`,
    [`${URN}${ENV}$pulumi:providers:docker::panopticon-aws-docker`]: `${URN}${HOST_RUNTIME}$pulumi:providers:docker::panopticon-aws-docker`,
    [`${URN}${ENV}$pulumi:providers:docker::panopticon-aws-docker-images`]: `${URN}${HOST_RUNTIME}$pulumi:providers:docker::panopticon-aws-docker-images`,
  },
  "prod-ecs": {},
};

/**
 * Components the restructuring adds: they hold nothing and create nothing in the
 * cloud, but become the parent of what moved under them.
 */
const ADDED: Record<string, string[]> = {
  dev: [],
  prod: [`${URN}${HOST_RUNTIME}::panopticon`],
  "prod-ecs": [],
};

/** The differences less the listed new components (each must be a component). */
function unlisted(record: string, resources: RecordedResource[], differences: string[]): string[] {
  const added = new Set(ADDED[record]);
  for (const urn of added) {
    expect(resources.find((r) => r.urn === urn)).toMatchObject({ custom: false, inputs: {} });
  }
  return differences.filter((d) => {
    const m = /^new: (\S+) was not registered before$/.exec(d);
    return m === null || !added.has(m[1]);
  });
}

const STACKS = [
  { record: "dev", stack: "dev", file: "dev" },
  { record: "prod", stack: "prod", file: "prod" },
  // Pulumi.prod-ecs.yaml runs as a stack named prod (its stack file is the variant).
  { record: "prod-ecs", stack: "prod", file: "prod-ecs" },
];

async function run(stack: string, file: string): Promise<RecordedResource[]> {
  const r = await runProgram({ stack, config: cliStackConfig(file), secrets: SECRETS });
  if (r.error) throw r.error;
  return r.resources;
}

describe.each(STACKS)("stack $record registers what it registered before", (s) => {
  const recordFile = path.join(RECORDS, `${s.record}.json`);

  test("same resources, inputs and options; moves only through aliases", async () => {
    const resources = await run(s.stack, s.file);
    if (process.env.RECORD_REGISTRATIONS === "1") {
      fs.mkdirSync(RECORDS, { recursive: true });
      fs.writeFileSync(recordFile, JSON.stringify(registrations(resources), null, 1) + "\n");
    }
    const before = JSON.parse(fs.readFileSync(recordFile, "utf8")) as Registration[];
    expect(before.length).toBeGreaterThan(10);
    const { moved, differences } = compareRuns(before, resources);
    expect(unlisted(s.record, resources, differences)).toEqual([]);
    expect(moved).toEqual(MOVES[s.record]);
    expect(movedStateful(moved)).toEqual([]);
  });
});

describe("the comparison itself", () => {
  let resources: RecordedResource[];
  let before: Registration[];
  beforeAll(async () => {
    resources = await run("dev", "dev");
    before = registrations(resources);
  });

  test("an identical run has no differences and no moves", () => {
    expect(compareRuns(before, resources)).toEqual({ moved: {}, differences: [] });
  });

  test("a changed input is a difference", () => {
    const doctored = resources.map((r, i) =>
      i === 0 ? { ...r, inputs: { ...r.inputs, extra: "x" } } : r,
    );
    expect(compareRuns(before, doctored).differences).toEqual([
      expect.stringContaining(": inputs was"),
    ]);
  });

  test("a dropped retainOnDelete flag is a difference", () => {
    const i = resources.findIndex((r) => r.retainOnDelete);
    expect(i).toBeGreaterThanOrEqual(0);
    const doctored = resources.map((r, j) => (j === i ? { ...r, retainOnDelete: false } : r));
    expect(compareRuns(before, doctored).differences).toEqual([
      `${resources[i].urn}: retainOnDelete was true, is false`,
    ]);
  });

  test("a renamed resource without an alias is gone and new; with one it is moved", () => {
    const i = resources.findIndex((r) => r.custom && r.parent);
    const r = resources[i];
    const urn = r.urn.replace(/::([^:]*)$/, "::$1-moved");
    // What a run with the rename would send: the new URN wherever the old one was referred to.
    const ref = (u: string) => (u === r.urn ? urn : u);
    const refs = (x: RecordedResource) => ({
      ...x,
      parent: ref(x.parent),
      dependencies: x.dependencies.map(ref),
    });
    const renamed = { ...r, name: `${r.name}-moved`, urn };
    const without = resources.map((x, j) => refs(j === i ? renamed : x));
    const differences = compareRuns(before, without).differences;
    expect(differences[0]).toBe(`gone: ${r.urn} is not registered and no alias names it`);
    expect(differences).toContain(`new: ${urn} was not registered before`);
    const withAlias = resources.map((x, j) =>
      refs(j === i ? { ...renamed, aliases: [{ name: r.name }] } : x),
    );
    expect(compareRuns(before, withAlias)).toEqual({ moved: { [r.urn]: urn }, differences: [] });
  });

  test("a changed parent is a difference unless the resource moved by an alias", () => {
    const i = resources.findIndex((r) => r.custom && r.parent);
    const other = resources.find((r) => !r.custom && r.urn !== resources[i].parent)!;
    const reparented = resources.map((r, j) => (j === i ? { ...r, parent: other.urn } : r));
    expect(compareRuns(before, reparented).differences).toEqual([
      expect.stringContaining(": parent was"),
    ]);
    const r = resources[i];
    const urn = r.urn.replace(/::([^:]*)$/, "::$1-moved");
    const ref = (u: string) => (u === r.urn ? urn : u);
    const moved = resources.map((x, j) =>
      j === i
        ? {
            ...x,
            urn,
            name: `${x.name}-moved`,
            parent: other.urn,
            aliases: [{ name: x.name, parentUrn: x.parent }],
          }
        : { ...x, parent: ref(x.parent), dependencies: x.dependencies.map(ref) },
    );
    expect(compareRuns(before, moved).differences).toEqual([]);
  });

  test("a stateful resource that moves is named", () => {
    const volume = resources.find((r) => r.type === "docker:index/volume:Volume")!;
    expect(movedStateful({ [volume.urn]: `${volume.urn}-x` })).toEqual([volume.urn]);
    const network = resources.find((r) => r.type === "docker:index/network:Network");
    if (network) expect(movedStateful({ [network.urn]: `${network.urn}-x` })).toEqual([]);
  });
});
