import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cliStackConfig, ProgramRun, RecordedResource, runProgram } from "./support/harness";
import {
  BUILD,
  buildOfImage,
  buildsSafe,
  imageOfContainer,
  pushedDigestsRun,
} from "./support/image-rules";
import { CONTAINER, IMAGE, serviceContainers } from "./support/rules";

/*
 * Images built from a Panopticon checkout (panopticon:appSource), under mocks: what
 * the build resources, the images and the containers send to the engine, with and
 * without a registry, and every bad appSource refused before anything is registered.
 */

jest.setTimeout(60_000);

const SOURCE = path.join(__dirname, "fixtures", "panopticon-src");
const REGISTRY = "registry.example:5000/panopticon";
const DOCKERFILES: Record<string, string> = {
  "main-app": "app/dockerfile",
  "query-storage": "query_storage/dockerfile",
  "evaluation-storage": "evaluation_storage/dockerfile",
  "judge-service": "judge_service/dockerfile",
  "visualization-service": "visualization_service/dockerfile",
  "model-registry": "model_registry/dockerfile",
  postgres: "postgres/Dockerfile",
};

const dev = (extra: Record<string, unknown> = {}) =>
  runProgram({
    stack: "dev",
    config: { ...cliStackConfig("dev"), "panopticon:appSource": SOURCE, ...extra },
  });

function ok(run: ProgramRun): ProgramRun {
  if (run.error) throw run.error;
  return run;
}

const serviceOf = (c: RecordedResource) =>
  String(c.plainInputs.name).replace(/^panopticon-dev-/, "");

describe("built from the checkout, no registry", () => {
  let run: ProgramRun;
  beforeAll(async () => (run = ok(await dev())));

  it("builds every service as compose does: context = checkout root, its own dockerfile", () => {
    const builds = run.byType(BUILD);
    expect(builds).toHaveLength(Object.keys(DOCKERFILES).length);
    for (const c of serviceContainers(run.resources)) {
      const b = buildOfImage(run.resources, imageOfContainer(run.resources, c)!)!;
      expect(b.plainInputs.context).toEqual({ location: SOURCE });
      expect(b.plainInputs.dockerfile).toEqual({
        location: path.join(SOURCE, DOCKERFILES[serviceOf(c)]),
      });
      // Loaded into the local engine under a stack-scoped tag; nothing pushed.
      expect(b.plainInputs).toMatchObject({
        load: true,
        push: false,
        tags: [`panopticon-dev-${serviceOf(c)}:built`],
      });
      expect(b.plainInputs.exports).toBeUndefined();
    }
  });

  it("containers run the image id of the RemoteImage that reads the build, re-read when it runs", () => {
    expect(buildsSafe()(run.resources)).toEqual([]);
    for (const c of serviceContainers(run.resources)) {
      const img = imageOfContainer(run.resources, c)!;
      expect(img.plainInputs.name).toBe(`panopticon-dev-${serviceOf(c)}:built`);
      expect(img.plainInputs.keepLocally).toBe(true);
      expect(c.plainInputs.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
  });

  it("exports each service's engine-local image id (which promotion refuses)", () => {
    const images = run.outputs.images as Record<string, string>;
    expect(Object.keys(images).sort()).toEqual(Object.keys(DOCKERFILES).sort());
    for (const ref of Object.values(images)) expect(ref).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("the same checkout registers the same inputs again (nothing for the engine to change)", async () => {
    const again = ok(await dev());
    const view = (r: ProgramRun) =>
      r.resources
        .filter((x) => [BUILD, IMAGE, CONTAINER].includes(x.type))
        .map((x) => [x.name, x.plainInputs]);
    expect(view(again)).toEqual(view(run));
  });

  it("buildsSafe catches a build run on every preview, not retained, with credentials, or unread", () => {
    const twin = run.resources.map((r) =>
      r.type === BUILD && r.name.includes("query-storage")
        ? { ...r, plainInputs: { ...r.plainInputs, buildOnPreview: true } }
        : r.type === BUILD && r.name.includes("main-app")
          ? { ...r, retainOnDelete: false, plainInputs: { ...r.plainInputs, registries: [{}] } }
          : r.type === IMAGE && r.name.includes("judge-service")
            ? { ...r, plainInputs: { ...r.plainInputs, pullTriggers: [] } }
            : r,
    );
    const found = buildsSafe()(twin).join("\n");
    expect(found).toMatch(
      /main-app.*not retained: deleting the build would delete its pushed image/,
    );
    expect(found).toMatch(/main-app.*registry credentials in the inputs/);
    expect(found).toMatch(/query-storage.*buildOnPreview true/);
    expect(found).toMatch(/judge-service.*no pullTriggers/);
  });
});

describe("options", () => {
  it("a pinned services.<name>.image wins over the build", async () => {
    const pinned = `registry.example/panopticon/judge-service@sha256:${"b".repeat(64)}`;
    const run = ok(await dev({ "panopticon:services": { "judge-service": { image: pinned } } }));
    const judge = serviceContainers(run.resources).find((c) => serviceOf(c) === "judge-service")!;
    const img = imageOfContainer(run.resources, judge)!;
    expect(img.plainInputs.name).toBe(pinned);
    expect(buildOfImage(run.resources, img)).toBeUndefined();
    expect(run.byType(BUILD)).toHaveLength(Object.keys(DOCKERFILES).length - 1);
    expect((run.outputs.images as Record<string, string>)["judge-service"]).toBe(pinned);
  });

  it("buildOnPreview: false by default (docker-build's own default is true), true when asked", async () => {
    const off = ok(await dev());
    expect(off.byType(BUILD).map((b) => b.plainInputs.buildOnPreview)).not.toContain(true);
    const on = ok(await dev({ "panopticon:buildOnPreview": true }));
    expect(buildsSafe(true)(on.resources)).toEqual([]);
    expect(buildsSafe(false)(on.resources)).not.toEqual([]);
  });
});

describe("with a registry", () => {
  let run: ProgramRun;
  beforeAll(async () => (run = ok(await dev({ "panopticon:registry": `https://${REGISTRY}/` }))));

  it("pushes each build by digest to <registry>/<service>", () => {
    for (const b of run.byType(BUILD)) {
      const svc = b.name.replace(/^panopticon-(.+)-build-image$/, "$1");
      expect(b.plainInputs).toMatchObject({
        push: false,
        exports: [{ registry: { names: [`${REGISTRY}/${svc}`], pushByDigest: true } }],
      });
      expect(b.plainInputs.load).toBeUndefined();
      expect(b.plainInputs.tags).toBeUndefined();
    }
  });

  it("containers run the pushed digest; the images output is repo@sha256 per service", () => {
    expect(pushedDigestsRun(REGISTRY)(run.resources)).toEqual([]);
    for (const [svc, ref] of Object.entries(run.outputs.images as Record<string, string>))
      expect(ref).toMatch(new RegExp(`^${REGISTRY}/${svc}@sha256:[0-9a-f]{64}$`));
  });

  it("images are pulled through a provider logged in to the registry; containers keep the default", () => {
    const [p] = run.byType("pulumi:providers:docker");
    expect(JSON.parse(String(p.plainInputs.registryAuth))).toEqual([
      { address: "registry.example:5000" },
    ]);
    for (const img of run.byType(IMAGE)) expect(img.provider.startsWith(`${p.urn}::`)).toBe(true);
    for (const c of run.byType(CONTAINER)) expect(c.provider).toBe("");
  });

  it("pushedDigestsRun catches a container that runs the local tag instead", async () => {
    const local = ok(await dev());
    expect(pushedDigestsRun(REGISTRY)(local.resources).join("\n")).toMatch(/not a pushed digest/);
  });
});

describe("bad appSource or registry: refused before anything is registered", () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "app-source-"))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function refused(config: Record<string, unknown>, message: RegExp) {
    const run = await dev(config);
    expect(run.error?.name).toBe("ConfigError");
    expect(run.error?.message).toMatch(message);
    expect(run.error?.message).toMatch(/nothing was created or changed/);
    expect(run.resources).toEqual([]);
  }

  it("a directory that does not exist", () =>
    refused(
      { "panopticon:appSource": "../no-such-checkout" },
      /panopticon:appSource = "\.\.\/no-such-checkout": .*no-such-checkout does not exist: expected a Panopticon checkout/,
    ));

  it("a file instead of a directory", () => {
    const f = path.join(tmp, "file");
    fs.writeFileSync(f, "");
    return refused(
      { "panopticon:appSource": f },
      /is not a directory: expected a Panopticon checkout/,
    );
  });

  it("a checkout without a dockerfile the catalogue names", () => {
    fs.cpSync(SOURCE, tmp, { recursive: true });
    fs.rmSync(path.join(tmp, "query_storage", "dockerfile"));
    return refused(
      { "panopticon:appSource": tmp },
      /panopticon:appSource = ".*": no query_storage\/dockerfile in .* \(service query-storage\): expected a Panopticon checkout with the dockerfile/,
    );
  });

  it("a registry that is not a registry URL", () =>
    refused(
      { "panopticon:registry": "ghcr.io/acme/panopticon:latest" },
      /panopticon:registry = "ghcr\.io\/acme\/panopticon:latest": expected a registry URL/,
    ));

  it("a registry on a stack that builds nothing", () => {
    const pinned = Object.fromEntries(
      Object.keys(DOCKERFILES).map((svc) => [
        svc,
        { image: `registry.example/panopticon/${svc}:pg15@sha256:${"c".repeat(64)}` },
      ]),
    );
    return refused(
      { "panopticon:services": pinned, "panopticon:registry": REGISTRY },
      /panopticon:registry = "registry\.example:5000\/panopticon": nothing is built/,
    );
  });

  it("an empty appSource", () =>
    refused(
      { "panopticon:appSource": "" },
      /panopticon:appSource = "": expected a path to a Panopticon checkout/,
    ));
});
