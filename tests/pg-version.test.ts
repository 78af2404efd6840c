import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { assertPgVersionMatches, dockerIsLocal } from "../components/pg-version";
import { parseSettings, rawFromStackFile } from "../components/config/settings";
import { cliStackConfig, runProgram } from "./support/harness";

/*
 * A local bind-mode stack whose postgres/PG_VERSION names another major than the
 * image's is refused at preview, before any resource reaches the engine.
 */

jest.setTimeout(60_000);
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "pg-version-"));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

function dataDirWith(pgVersion: string | undefined): string {
  const dir = fs.mkdtempSync(path.join(TMP, "data-"));
  fs.mkdirSync(path.join(dir, "postgres"));
  if (pgVersion !== undefined)
    fs.writeFileSync(path.join(dir, "postgres", "PG_VERSION"), `${pgVersion}\n`);
  return dir;
}

async function preview(dataDir: string, image: string, extra: Record<string, unknown> = {}) {
  const config = cliStackConfig("dev");
  const services = structuredClone((config["panopticon:services"] ?? {}) as Record<string, object>);
  services.postgres = { ...services.postgres, image };
  return runProgram({
    stack: "dev",
    preview: true,
    config: {
      ...config,
      "panopticon:services": services,
      "panopticon:storageMode": "bind",
      "panopticon:dataDir": dataDir,
      // Explicitly this machine's engine, whatever DOCKER_HOST the test runs under.
      "docker:host": "unix:///var/run/docker.sock",
      ...extra,
    },
    secrets: { postgresPassword: "pw-Zq81-very-secret" },
  });
}

describe("PG_VERSION against the image's major (bind mode, Docker on this machine)", () => {
  it("a major-15 directory under a Postgres 16 image is refused, both versions named, nothing registered", async () => {
    const dir = dataDirWith("15");
    const run = await preview(dir, "postgres:16.4-bookworm");
    expect(run.error?.name).toBe("ConfigError");
    expect(run.error?.message).toContain(
      `${path.join(dir, "postgres")} holds a Postgres 15 cluster`,
    );
    expect(run.error?.message).toMatch(
      /PG_VERSION = 15\), but the image postgres:16\.4-bookworm runs Postgres 16/,
    );
    expect(run.error?.message).toMatch(/npm run pg-upgrade -- --stack dev --to 16/);
    expect(run.resources).toEqual([]);
  });

  it("the compliant twin: a major-15 directory under a Postgres 15 image registers the stack", async () => {
    const run = await preview(dataDirWith("15"), "pgvector/pgvector:0.8.0-pg15-bookworm");
    expect(run.error).toBeUndefined();
    expect(run.byType("docker:index/container:Container").length).toBeGreaterThan(0);
  });

  it("a directory without a cluster yet (no PG_VERSION) is not refused: Postgres initialises it", async () => {
    const run = await preview(dataDirWith(undefined), "postgres:16.4-bookworm");
    expect(run.error).toBeUndefined();
  });

  it("with a remote Docker host the directory is not on this machine: left to doctor", async () => {
    const run = await preview(dataDirWith("15"), "postgres:16.4-bookworm", {
      "docker:host": "ssh://ops@build-box",
    });
    expect(run.error).toBeUndefined();
  });
});

describe("dockerIsLocal", () => {
  it.each([
    [undefined, true],
    ["", true],
    ["unix:///var/run/docker.sock", true],
    ["ssh://ops@host", false],
    ["tcp://10.0.0.5:2376", false],
  ])("%s -> %s", (host, local) => expect(dockerIsLocal(host)).toBe(local));
});

describe("a data directory this user cannot read", () => {
  it("is a warning naming doctor, not a silent pass and not a refusal", () => {
    const settings = parseSettings(
      rawFromStackFile({
        ...cliStackConfig("dev"),
        "panopticon:storageMode": "bind",
        "panopticon:dataDir": "/srv/panopticon",
      }),
      { stack: "dev", baseDir: TMP },
    );
    const warning = assertPgVersionMatches(settings, {
      read: () => {
        throw Object.assign(new Error("permission denied"), { code: "EACCES" });
      },
    });
    expect(warning).toMatch(
      /cannot read \/srv\/panopticon\/postgres\/PG_VERSION \(EACCES\) .*npm run doctor -- --stack dev/,
    );
  });
});
