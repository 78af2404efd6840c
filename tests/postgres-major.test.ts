import { POSTGRES_MAJOR_LABEL, postgresMajorOf } from "../components/service-container";
import { runProgram } from "./harness";
import { serviceContainers } from "./rules";

/*
 * The program labels the postgres container with the major its image runs; the
 * guard (scripts/guard/bindings.ts) compares the label across a preview.
 */

describe("postgresMajorOf", () => {
  it.each([
    ["postgres:15", "15"],
    ["postgres:16.4-bookworm", "16"],
    ["postgres:16.4-bookworm@sha256:" + "a".repeat(64), "16"],
    ["pgvector/pgvector:pg15", "15"],
    ["pgvector/pgvector:0.6.0-pg15-bookworm", "15"],
    ["panopticon-test/postgres:15", "15"],
    ["registry:5000/postgres:17", "17"],
  ])("%s runs major %s", (image, major) => expect(postgresMajorOf(image)).toBe(major));

  it.each([
    ["postgres"],
    ["postgres:latest"],
    ["registry:5000/postgres"],
    ["postgres@sha256:" + "a".repeat(64)],
  ])("%s does not say", (image) => expect(postgresMajorOf(image)).toBeUndefined());
});

describe("the major label as the engine receives it", () => {
  const labelsOf = async (image: string) => {
    const run = await runProgram({
      stack: "dev",
      config: { services: { postgres: { image } } },
      secrets: { postgresPassword: "pw-Zq81-very-secret" },
    });
    if (run.error) throw run.error;
    const containers = serviceContainers(run.resources);
    return Object.fromEntries(
      containers.map((c) => [
        String(c.plainInputs.name),
        (c.plainInputs.labels as Array<{ label: string; value: string }>).find(
          (l) => l.label === POSTGRES_MAJOR_LABEL,
        )?.value,
      ]),
    );
  };

  it("labels only the postgres container, with its image's major", async () => {
    const labels = await labelsOf("pgvector/pgvector:0.6.0-pg15-bookworm");
    expect(labels["panopticon-dev-postgres"]).toBe("15");
    const others = Object.entries(labels).filter(([n]) => n !== "panopticon-dev-postgres");
    expect(others.length).toBeGreaterThan(0);
    expect(others.every(([, v]) => v === undefined)).toBe(true);
  });

  it("an image whose tag names no major gets no label (never a guessed one)", async () => {
    const labels = await labelsOf("postgres:latest");
    expect(labels["panopticon-dev-postgres"]).toBeUndefined();
  });
});
