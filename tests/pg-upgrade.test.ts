import { parse } from "yaml";
import { parseSettings, rawFromStackFile } from "../components/config/settings";
import { diskProblems } from "../scripts/lib/pg-upgrade-disk";
import { unexpectedRestoreErrors } from "../scripts/lib/pg-upgrade-core";
import { planRdsUpgrade, RdsPlan, runRdsUpgrade } from "../scripts/lib/pg-upgrade-rds";
import { compareFacts } from "../scripts/lib/pg-verify";
import { setScalars } from "../scripts/lib/stack-edit";
import { PROJECT_DIR, promotedStackFile } from "./support/harness";

/*
 * The pure parts of pg-upgrade: the stack-file edit, the disk check, the restore's
 * error filter, the verification and the RDS plan (there is no AWS here: the
 * snapshot call is replaced and recorded).
 */

describe("setScalars: byte-preserving stack-file edits", () => {
  const text = [
    "# keep me",
    "config:",
    "  panopticon:environment: local # why local",
    "",
    "  panopticon:services:",
    "    postgres:",
    "      image: 'postgres:15.8' # pinned",
    "    main-app:",
    "      image: app:1",
    "",
  ].join("\n");

  it("replaces an existing scalar in its own quoting, nothing else moves", () => {
    const out = setScalars(text, [
      { path: ["config", "panopticon:services", "postgres", "image"], value: "postgres:16.4" },
    ]);
    expect(out).toBe(text.replace("'postgres:15.8'", "'postgres:16.4'"));
  });

  it("adds missing keys under the deepest mapping that exists, indented like its siblings", () => {
    const out = setScalars(text, [
      { path: ["config", "panopticon:volumeNames", "postgres"], value: "pg-data-pg16" },
      {
        path: ["config", "panopticon:services", "postgres", "data", "bindDir"],
        value: "postgres-pg16",
      },
    ]);
    expect(
      out.startsWith("# keep me\nconfig:\n  panopticon:environment: local # why local\n"),
    ).toBe(true);
    expect(parse(out)).toEqual({
      config: {
        "panopticon:environment": "local",
        "panopticon:services": {
          postgres: { image: "postgres:15.8", data: { bindDir: "postgres-pg16" } },
          "main-app": { image: "app:1" },
        },
        "panopticon:volumeNames": { postgres: "pg-data-pg16" },
      },
    });
    expect(out).toContain(
      "      image: 'postgres:15.8' # pinned\n      data:\n        bindDir: postgres-pg16\n",
    );
  });

  it("refuses a layout it cannot edit in place", () => {
    expect(() => setScalars("config: {a: 1}\n", [{ path: ["config", "b"], value: "x" }])).toThrow(
      /cannot add it to this layout/,
    );
  });
});

describe("diskProblems", () => {
  it("names each disk short of headroom x data, and none with room", () => {
    const p = diskProblems(100 * 1024 * 1024, 2, [
      { what: "the Docker disk", free: 150 * 1024 * 1024 },
      { what: "the backup disk", free: 10 * 1024 * 1024 * 1024 },
    ]);
    expect(p).toEqual([
      "the Docker disk has 150.0 MiB free, the upgrade needs 200.0 MiB (2 x the data's 100.0 MiB)",
    ]);
    expect(diskProblems(1, 2, [{ what: "d", free: 2 }])).toEqual([]);
  });
});

describe("unexpectedRestoreErrors", () => {
  it("accepts only the role the new cluster was initialised with", () => {
    const stderr = [
      'psql:<stdin>:14: ERROR:  role "postgres" already exists',
      'psql:<stdin>:90: ERROR:  relation "items" does not exist',
    ].join("\n");
    expect(unexpectedRestoreErrors(stderr, "postgres")).toEqual([
      'psql:<stdin>:90: ERROR:  relation "items" does not exist',
    ]);
    expect(unexpectedRestoreErrors('ERROR:  role "postgres" already exists', "postgres")).toEqual(
      [],
    );
  });
});

describe("compareFacts", () => {
  const before = {
    rows: { panopticon: { "public.items": 10, "judge.scores": 2 } },
    extensions: { panopticon: ["plpgsql 1.0", "vector 0.6.0"] },
  };
  it("matching clusters give no difference", () => {
    expect(compareFacts(before, before)).toEqual([]);
  });
  it("names a missing table, a row count and a missing extension", () => {
    const after = {
      rows: { panopticon: { "public.items": 9 } },
      extensions: { panopticon: ["plpgsql 1.0"] },
    };
    expect(compareFacts(before, after)).toEqual([
      "panopticon: table public.items has 9 rows, expected 10",
      "panopticon: table judge.scores is missing after the restore",
      "panopticon: extension vector is missing after the restore",
    ]);
  });
});

describe("RDS: snapshot, then the exact change", () => {
  const prodSettings = (engineVersion: string) => {
    const file = promotedStackFile("Pulumi.prod.yaml") as {
      config: Record<string, unknown>;
    };
    const config = structuredClone(file.config);
    const aws = config["panopticon:aws"] as Record<string, unknown>;
    aws.rds = { ...(aws.rds as object), engineVersion };
    return parseSettings(rawFromStackFile(config), { stack: "prod", baseDir: PROJECT_DIR });
  };
  const now = new Date("2026-12-01T17:00:00Z");

  it("takes the snapshot through the one AWS function, then prints the change", async () => {
    const calls: RdsPlan[] = [];
    const plan = await runRdsUpgrade(prodSettings("15"), 16, {
      now,
      snapshot: async (p) => void calls.push(p),
      log: () => undefined,
    });
    expect(calls).toEqual([plan]);
    expect(plan.snapshotIdentifier).toBe("panopticon-prod-postgres-pre-pg16-20261201t170000z");
    expect(plan.text).toContain(
      "RDS instance panopticon-prod-postgres (eu-west-1): Postgres 15 -> 16",
    );
    expect(plan.text).toContain('engineVersion: "16"        # was "15"');
    expect(plan.text).toContain(
      "allowMajorVersionUpgrade: true  # panopticon:aws.rds.allowMajorVersionUpgrade, for this update only",
    );
    // A config key, not an edit of the program.
    expect(plan.text).not.toMatch(/components\/|\.ts\b/);
  });

  it("a target below the current major is refused before any snapshot", async () => {
    const calls: RdsPlan[] = [];
    await expect(
      runRdsUpgrade(prodSettings("16"), 15, {
        now,
        snapshot: async (p) => void calls.push(p),
        log: () => undefined,
      }),
    ).rejects.toThrow(/--to = 15: lower than the current major 16/);
    expect(calls).toEqual([]);
  });

  it("a failed snapshot stops before the plan is printed", async () => {
    await expect(
      runRdsUpgrade(prodSettings("15"), 16, {
        now,
        snapshot: async () => {
          throw new Error("aws rds create-db-snapshot failed (exit 254)");
        },
        log: () => undefined,
      }),
    ).rejects.toThrow(/create-db-snapshot failed/);
    expect(planRdsUpgrade(prodSettings("15"), 16, now).to).toBe(16);
  });
});
