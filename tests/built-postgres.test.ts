import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkAppSource, dockerfileFromMajor } from "../components/config/images";
import { parseSettings } from "../components/config/settings";
import { cliStackConfig, FIXTURE_SOURCE, runProgram } from "./support/harness";

/*
 * A Postgres built from the checkout runs whatever its dockerfile's FROM names. The
 * stack's data is one major; a checkout that moves Postgres to another must be
 * refused before anything is built or registered.
 */

test.each<[string, number | undefined]>([
  ["FROM postgres:15\nRUN apt-get install -y postgresql-15-pgvector\n", 15],
  ["FROM --platform=linux/amd64 postgres:16.4-bookworm AS base\n", 16],
  ["FROM golang:1.22 AS build\nFROM pgvector/pgvector:0.8.0-pg15\n", 15],
  ["ARG BASE=postgres:15\nFROM ${BASE}\n", undefined],
  ["# no FROM at all\n", undefined],
])("dockerfileFromMajor(%j) = %s", (text, major) => {
  expect(dockerfileFromMajor(text)).toBe(major);
});

/** A copy of the fixture checkout whose postgres/Dockerfile says `dockerfile`. */
function checkout(dockerfile: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-src-"));
  fs.cpSync(FIXTURE_SOURCE, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "postgres", "Dockerfile"), dockerfile);
  return dir;
}

function devWith(appSource: string, extra: Record<string, unknown> = {}) {
  return { ...cliStackConfig("dev"), "panopticon:appSource": appSource, ...extra };
}

function settingsFor(appSource: string, extra: Record<string, unknown> = {}) {
  const raw = Object.fromEntries(
    Object.entries(devWith(appSource, extra)).map(([k, v]) => [k.replace(/^panopticon:/, ""), v]),
  );
  return parseSettings(raw, { stack: "dev", baseDir: process.cwd() });
}

test("a checkout that builds the data's major passes (the compliant twin)", () => {
  const s = settingsFor(checkout("FROM panopticon-test/postgres:15\n"));
  expect(s.postgres).toMatchObject({ major: 15, service: "postgres" });
  expect(checkAppSource(s.images, s.postgres)).toEqual([]);
});

/** A stack whose data is Postgres 15 says so (the major otherwise follows the checkout). */
const DATA_15 = { "panopticon:postgresMajor": 15 };

test("without postgresMajor the data's major is what the checkout builds", () => {
  const s = settingsFor(checkout("FROM postgres:16\n"));
  expect(s.postgres.major).toBe(16);
});

test("a checkout that moves Postgres to 16 is refused, naming both majors", () => {
  const dir = checkout("FROM postgres:16\n");
  const s = settingsFor(dir, DATA_15);
  expect(checkAppSource(s.images, s.postgres)).toEqual([
    `panopticon:appSource = ${JSON.stringify(dir)}: postgres/Dockerfile in ${dir} builds Postgres 16, but this stack's data is Postgres 15 (that server would refuse it): keep the checkout at Postgres 15, or move the data with npm run pg-upgrade and set panopticon:postgresMajor to 16`,
  ]);
  // Saying so after the upgrade is accepted.
  const upgraded = settingsFor(dir, { "panopticon:postgresMajor": 16 });
  expect(checkAppSource(upgraded.images, upgraded.postgres)).toEqual([]);
});

test("an unreadable FROM needs postgresMajor only when nothing else gives the major", () => {
  const dir = checkout("ARG BASE=postgres:15\nFROM ${BASE}\n");
  // postgresMajor gives 15: nothing contradicts it.
  const s = settingsFor(dir, DATA_15);
  expect(checkAppSource(s.images, s.postgres)).toEqual([]);
  const unknown = settingsFor(dir);
  expect(checkAppSource(unknown.images, unknown.postgres)).toEqual([
    expect.stringMatching(/cannot be read from its FROM line: set panopticon:postgresMajor/),
  ]);
  expect(checkAppSource(s.images, { service: "postgres" })).toEqual([
    expect.stringMatching(/cannot be read from its FROM line: set panopticon:postgresMajor/),
  ]);
});

test("through the program: the refused checkout registers nothing", async () => {
  const run = await runProgram({
    stack: "dev",
    config: devWith(checkout("FROM postgres:16\n"), DATA_15),
    secrets: { postgresPassword: "pw-built-postgres" },
  });
  expect(run.error?.name).toBe("ConfigError");
  expect(run.error?.message).toMatch(/builds Postgres 16, but this stack's data is Postgres 15/);
  expect(run.resources).toEqual([]);
});
