import { createHash } from "crypto";
import * as fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Writable } from "stream";
import { parseSettings, Settings } from "../components/config/settings";
import { APP_IMAGES_YAML, withAppImages } from "./support/app-images";
import { volumeName } from "../components/config/naming";
import { formatBytes, PARTIAL_SUFFIX, writeStreamed } from "../scripts/lib/archive";
import { defaultBackupDir, parseLinkOwners, planArchives } from "../scripts/lib/backup-core";
import { exitCodeOf } from "../scripts/lib/exit-codes";
import { ContainerInfo, containersUsing, helperRunArgs } from "../scripts/lib/docker";
import {
  BackupInvalidError,
  Manifest,
  MANIFEST_FORMAT,
  parseManifest,
  readManifest,
} from "../scripts/lib/manifest";
import { checkPurgeAllowed } from "../scripts/lib/purge-core";
import { selectEntries } from "../scripts/lib/restore-core";
import {
  assertLocal,
  checkStackName,
  EnvironmentError,
  loadStack,
  parseSeconds,
  RefusedError,
  UsageError,
} from "../scripts/lib/stack";

/*
 * Unit tests of the pure parts of backup/restore/purge. The Docker parts are
 * tested against a real engine in data-tools.integration.test.ts.
 */

const local = (stack = "dev", raw: Record<string, unknown> = {}): Settings =>
  parseSettings(withAppImages({ environment: "local", ...raw }), { stack, baseDir: "/srv/p" });
const aws = (stack = "staging"): Settings =>
  parseSettings(withAppImages({ environment: "aws", aws: { region: "eu-west-1" } }), {
    stack,
    baseDir: "/srv/p",
  });

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "backup-unit-"));
}

function container(name: string, running: boolean, volume?: string, bind?: string): ContainerInfo {
  return {
    id: `${name}-id`,
    name,
    running,
    image: "img:1",
    imageId: "sha256:00",
    env: [],
    mounts: [
      ...(volume
        ? [
            {
              type: "volume",
              name: volume,
              source: `/var/lib/docker/volumes/${volume}/_data`,
              destination: "/data",
            },
          ]
        : []),
      ...(bind ? [{ type: "bind", source: bind, destination: "/data" }] : []),
    ],
  };
}

const SHA = "a".repeat(64);

function manifest(over: Partial<Manifest> = {}): Manifest {
  return {
    format: MANIFEST_FORMAT,
    project: "panopticon",
    stack: "dev",
    storageMode: "volume",
    startedAt: "2026-01-01T00:00:00.000Z",
    completedAt: "2026-01-01T00:00:10.000Z",
    helperImage: "busybox:1.36.1",
    engineVersion: "20.10.24",
    method: ["postgres: logical dump with pg_dump"],
    images: [{ service: "postgres", configured: "postgres:16.4-bookworm" }],
    entries: [
      {
        kind: "archive",
        dataSet: "judge",
        service: "judge-service",
        backend: "volume",
        source: "panopticon-dev-judge-data",
        file: "judge.tar",
        bytes: 10,
        sha256: SHA,
        consistency: "container-stopped",
      },
      {
        kind: "pg_dump",
        service: "postgres",
        database: "panopticon",
        user: "panopticon",
        format: "custom",
        file: "postgres.pgdump",
        bytes: 5,
        sha256: SHA,
        serverVersion: "16.4",
      },
    ],
    ...over,
  };
}

describe("stack loading uses the program's settings and names", () => {
  it("resolves volume names with the same naming code as the program", () => {
    const dir = tmpDir();
    fs.writeFileSync(
      path.join(dir, "Pulumi.dev.yaml"),
      `config:\n  panopticon:environment: local\n  aws:region: eu-west-1\n${APP_IMAGES_YAML}`,
    );
    const s = loadStack("dev", dir);
    expect(s.dataSets.find((d) => d.key === "judge")?.volumeName).toBe(
      volumeName("panopticon", "dev", "judge"),
    );
    expect(s.services.find((x) => x.kind === "postgres")?.containerName).toBe(
      "panopticon-dev-postgres",
    );
  });

  it("resolves bind directories against --dir", () => {
    const dir = tmpDir();
    fs.writeFileSync(
      path.join(dir, "Pulumi.b.yaml"),
      `config:\n  panopticon:storageMode: bind\n  panopticon:dataDir: ./d\n${APP_IMAGES_YAML}`,
    );
    const s = loadStack("b", dir);
    expect(s.dataSets.find((d) => d.key === "postgres")?.hostPath).toBe(
      path.join(dir, "d", "postgres"),
    );
  });

  it("names the stack, the file and what was expected when the file is missing", () => {
    const dir = tmpDir();
    expect(() => loadStack("nope", dir)).toThrow(UsageError);
    expect(() => loadStack("nope", dir)).toThrow(
      /--stack = "nope": expected a stack file .*Pulumi\.nope\.yaml/,
    );
  });

  it("reports config errors with the key and value", () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "Pulumi.x.yaml"), "config:\n  panopticon:storageMode: nfs\n");
    expect(() => loadStack("x", dir)).toThrow(/panopticon:storageMode = "nfs"/);
  });

  it("rejects YAML that does not parse, and a config that is not a mapping", () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "Pulumi.y.yaml"), "config: [\n");
    expect(() => loadStack("y", dir)).toThrow(/not valid YAML/);
    fs.writeFileSync(path.join(dir, "Pulumi.z.yaml"), "config: 3\n");
    expect(() => loadStack("z", dir)).toThrow(/"config" = 3: expected a mapping/);
  });

  it("accepts Pulumi stack names and rejects others", () => {
    expect(checkStackName("dev-2.a_b")).toBe("dev-2.a_b");
    expect(() => checkStackName("../etc")).toThrow(/--stack = "..\/etc"/);
    expect(() => checkStackName(undefined)).toThrow(/--stack is required/);
  });

  it("refuses AWS stacks and accepts local ones", () => {
    expect(() => assertLocal(aws(), "backup")).toThrow(EnvironmentError);
    expect(() => assertLocal(aws(), "backup")).toThrow(
      /environment "aws".*RDS.*AWS Backup.*Data Lifecycle Manager/,
    );
    expect(() => assertLocal(local(), "backup")).not.toThrow();
  });

  it("parses stop timeouts of at least 60 s", () => {
    expect(parseSeconds("--stop-timeout", "60")).toBe(60);
    expect(parseSeconds("--stop-timeout", undefined)).toBeUndefined();
    expect(() => parseSeconds("--stop-timeout", "59")).toThrow(
      /--stop-timeout = "59": expected whole seconds/,
    );
    expect(() => parseSeconds("--stop-timeout", "1m")).toThrow(UsageError);
  });
});

describe("planArchives decides what to archive and which writers to stop", () => {
  const s = local();
  const vol = (k: string) => s.dataSets.find((d) => d.key === k)?.volumeName as string;
  const all = new Set(s.dataSets.map((d) => d.key));

  it("skips data sets whose volume does not exist", () => {
    const plans = planArchives({
      dataSets: s.dataSets,
      present: new Set(["judge"]),
      containers: [],
      stopWriters: false,
    });
    expect(plans.filter((p) => p.action === "archive").map((p) => p.dataSet.key)).toEqual([
      "judge",
    ]);
    expect(plans.find((p) => p.dataSet.key === "query")).toMatchObject({
      action: "skip",
      reason: expect.stringMatching(/does not exist/),
    });
  });

  it("stops running app containers and records it", () => {
    const c = container("panopticon-dev-judge-service", true, vol("judge"));
    const p = planArchives({
      dataSets: s.dataSets,
      present: all,
      containers: [c],
      stopWriters: false,
    }).find((x) => x.dataSet.key === "judge");
    expect(p).toMatchObject({ action: "archive", consistency: "container-stopped", stop: [c] });
  });

  it("does not stop containers that are not running", () => {
    const c = container("panopticon-dev-judge-service", false, vol("judge"));
    const p = planArchives({
      dataSets: s.dataSets,
      present: all,
      containers: [c],
      stopWriters: false,
    }).find((x) => x.dataSet.key === "judge");
    expect(p).toMatchObject({ action: "archive", consistency: "container-not-running", stop: [] });
  });

  it("skips the raw Postgres volume when its dump is taken, unless --stop-writers", () => {
    const pg = container("panopticon-dev-postgres", true, vol("postgres"));
    const base = {
      dataSets: s.dataSets,
      present: all,
      containers: [pg],
      dumpedDataSet: "postgres",
    };
    expect(
      planArchives({ ...base, stopWriters: false }).find((x) => x.dataSet.key === "postgres"),
    ).toMatchObject({
      action: "skip",
      reason: expect.stringMatching(/pg_dump/),
    });
    expect(
      planArchives({ ...base, stopWriters: true }).find((x) => x.dataSet.key === "postgres"),
    ).toMatchObject({
      action: "archive",
      consistency: "container-stopped",
      stop: [pg],
    });
  });

  it("archives a stopped Postgres volume as files", () => {
    const pg = container("panopticon-dev-postgres", false, vol("postgres"));
    const p = planArchives({
      dataSets: s.dataSets,
      present: all,
      containers: [pg],
      stopWriters: false,
    });
    expect(p.find((x) => x.dataSet.key === "postgres")).toMatchObject({
      action: "archive",
      consistency: "container-not-running",
    });
  });
});

describe("containersUsing matches volumes by name and binds by host path", () => {
  const a = container("a", true, "vol-a");
  const b = container("b", true, undefined, "/srv/data/judge");
  it("matches", () => {
    expect(containersUsing([a, b], { type: "volume", source: "vol-a" })).toEqual([a]);
    expect(containersUsing([a, b], { type: "bind", source: "/srv/data/judge" })).toEqual([b]);
  });
  it("does not match other names, or a volume name given as a bind path", () => {
    expect(containersUsing([a, b], { type: "volume", source: "vol-b" })).toEqual([]);
    expect(containersUsing([a, b], { type: "bind", source: "vol-a" })).toEqual([]);
  });
});

describe("helperRunArgs", () => {
  it("mounts read-only for reading and never logs the stream", () => {
    const args = helperRunArgs({
      image: "busybox:1",
      mount: { type: "volume", source: "v" },
      readOnly: true,
      purpose: "backup",
      command: ["tar", "-c", "-f", "-", "-C", "/data", "."],
    });
    expect(args).toEqual(
      expect.arrayContaining(["--rm", "--log-driver", "none", "--network", "none"]),
    );
    expect(args[args.indexOf("--mount") + 1]).toBe(
      "type=volume,src=v,dst=/data,readonly,volume-nocopy",
    );
    expect(args.slice(-7)).toEqual(["tar", "-c", "-f", "-", "-C", "/data", "."]);
  });
  it("mounts read-write when asked, and refuses paths that would break --mount", () => {
    const m = (source: string) =>
      helperRunArgs({
        image: "i",
        mount: { type: "bind", source },
        readOnly: false,
        purpose: "p",
        command: [],
      });
    expect(m("/srv/x")[m("/srv/x").indexOf("--mount") + 1]).toBe("type=bind,src=/srv/x,dst=/data");
    expect(() => m("/srv/a,b")).toThrow(/expected a path without commas/);
  });
});

describe("manifest", () => {
  it("accepts a complete manifest", () => {
    expect(parseManifest(JSON.stringify(manifest()), "/b")).toEqual(manifest());
  });

  it("names the bad field of an invalid manifest", () => {
    const m = manifest();
    (m.entries[0] as { sha256: string }).sha256 = "xyz";
    expect(() => parseManifest(JSON.stringify(m), "/b")).toThrow(
      /entries\.0\.sha256: expected a sha256/,
    );
    expect(() => parseManifest("{", "/b")).toThrow(/not valid JSON/);
    expect(() => parseManifest(JSON.stringify({ ...manifest(), format: "other/1" }), "/b")).toThrow(
      BackupInvalidError,
    );
  });

  it("refuses file names that leave the backup directory", () => {
    const m = manifest();
    (m.entries[0] as { file: string }).file = "../etc/passwd";
    expect(() => parseManifest(JSON.stringify(m), "/b")).toThrow(/entries\.0\.file/);
  });

  it("refuses a file listed twice", () => {
    const m = manifest();
    (m.entries[1] as { file: string }).file = "judge.tar";
    expect(() => parseManifest(JSON.stringify(m), "/b")).toThrow(/listed twice/);
  });

  it("never treats a directory without manifest as complete, and says what was interrupted", () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, `judge.tar${PARTIAL_SUFFIX}`), "x");
    expect(() => readManifest(dir)).toThrow(
      /no manifest\.json: the backup did not complete \(interrupted while writing judge\.tar\.partial\)/,
    );
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest()));
    expect(readManifest(dir).stack).toBe("dev");
  });
});

describe("selectEntries", () => {
  const s = local();
  const withPgArchive = manifest({
    entries: [
      ...manifest().entries,
      {
        ...(manifest().entries[0] as object),
        dataSet: "postgres",
        service: "postgres",
        file: "postgres.tar",
      } as Manifest["entries"][number],
    ],
  });

  it("restores everything by default", () => {
    expect(selectEntries(manifest(), s).map((e) => e.file)).toEqual([
      "judge.tar",
      "postgres.pgdump",
    ]);
  });

  it("prefers the Postgres files over the dump when both exist", () => {
    expect(selectEntries(withPgArchive, s).map((e) => e.file)).toEqual([
      "judge.tar",
      "postgres.tar",
    ]);
    expect(selectEntries(withPgArchive, s, "pg_dump").map((e) => e.file)).toEqual([
      "postgres.pgdump",
    ]);
  });

  it("refuses --only with both copies of Postgres, or unknown names", () => {
    expect(() => selectEntries(withPgArchive, s, "postgres,pg_dump")).toThrow(
      /choose either postgres .* or pg_dump/,
    );
    expect(() => selectEntries(manifest(), s, "judge,chroma")).toThrow(
      /--only = "judge,chroma": .*\(unknown: chroma\)/,
    );
    // A near miss names what was meant; a name far from every data set gets no guess.
    expect(() => selectEntries(manifest(), s, "judg")).toThrow(
      /\(unknown: judg\); did you mean "judge"\?/,
    );
    expect(() => selectEntries(manifest(), s, "chroma")).toThrow(/\(unknown: chroma\)$/);
  });

  it("refuses a data set the stack does not define", () => {
    const m = manifest({
      entries: [
        { ...(manifest().entries[0] as object), dataSet: "old" } as Manifest["entries"][number],
      ],
    });
    expect(() => selectEntries(m, s)).toThrow(/data set "old", which stack dev does not define/);
  });
});

describe("purge refusals", () => {
  it("refuses AWS stacks and prod-named stacks even with the right confirmation", () => {
    expect(() => checkPurgeAllowed(aws("staging"), "staging")).toThrow(/environment "aws"/);
    expect(() => checkPurgeAllowed(local("prod"), "prod")).toThrow(/named like a production stack/);
    expect(() => checkPurgeAllowed(local("Production"), "Production")).toThrow(RefusedError);
  });

  it("refuses a missing or wrong confirmation and accepts the stack name typed again", () => {
    expect(() => checkPurgeAllowed(local("dev"), undefined)).toThrow(/--confirm is required/);
    expect(() => checkPurgeAllowed(local("dev"), "DEV")).toThrow(
      /--confirm = "DEV": expected the stack name "dev"/,
    );
    expect(() => checkPurgeAllowed(local("dev"), "dev ")).toThrow(RefusedError);
    expect(() => checkPurgeAllowed(local("dev"), "dev")).not.toThrow();
  });

  it("accepts no confirmation other than the exact stack name", () => {
    fc.assert(
      fc.property(fc.string(), (typed) => {
        let refused = false;
        try {
          checkPurgeAllowed(local("dev"), typed);
        } catch (e) {
          refused = e instanceof RefusedError;
        }
        return refused === (typed !== "dev");
      }),
    );
  });
});

describe("writeStreamed", () => {
  it("writes through .partial, hashes and renames", async () => {
    const dir = tmpDir();
    const data = Buffer.from("hello backup\n".repeat(1000));
    const w = await writeStreamed(dir, "a.tar", "a", async (sink: Writable) => {
      sink.end(data);
    });
    expect(w.sha256).toBe(createHash("sha256").update(data).digest("hex"));
    expect(w.bytes).toBe(data.length);
    expect(fs.readdirSync(dir)).toEqual(["a.tar"]);
  });

  it("leaves neither the final name nor a .partial when the producer fails", async () => {
    const dir = tmpDir();
    await expect(
      writeStreamed(dir, "b.tar", "b", async (sink: Writable) => {
        sink.write(Buffer.alloc(1024));
        throw new Error("tar died");
      }),
    ).rejects.toThrow("tar died");
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("never overwrites an existing .partial (another run may be writing it)", async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, `c.tar${PARTIAL_SUFFIX}`), "other");
    await expect(writeStreamed(dir, "c.tar", "c", async (s) => void s.end("x"))).rejects.toThrow(
      /EEXIST/,
    );
  });
});

describe("parseLinkOwners", () => {
  it("keeps links not owned by root, whatever their names hold", () => {
    const out = [
      "1000:1000",
      "./a link",
      "0:0",
      "./root-link",
      "12:34",
      "./odd\nname -> x",
      "",
    ].join("\0");
    expect(parseLinkOwners(out)).toEqual([
      ["1000:1000", "./a link"],
      ["12:34", "./odd\nname -> x"],
    ]);
  });
  it("returns nothing when there are no links", () => {
    expect(parseLinkOwners("")).toEqual([]);
  });
});

describe("small helpers", () => {
  it("formats sizes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GiB");
  });
  it("names backup directories by stack and UTC time", () => {
    expect(defaultBackupDir("/p", "dev", new Date("2026-03-04T05:06:07.890Z"))).toBe(
      "/p/backups/dev-20260304T050607Z",
    );
  });
  it("maps errors to exit codes", () => {
    expect(exitCodeOf(new UsageError("x"))).toBe(2);
    // README's table: 1 found a problem or refused, 3 the environment lacks something.
    expect(exitCodeOf(new RefusedError("x"))).toBe(1);
    expect(exitCodeOf(new BackupInvalidError("/b", "x"))).toBe(1);
    expect(exitCodeOf(new EnvironmentError("x"))).toBe(3);
    expect(exitCodeOf(new Error("x"))).toBe(1);
  });
});
