import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseSettings } from "../components/config/settings";
import { withAppImages } from "./support/app-images";
import { MANIFEST_FILE, MANIFEST_FORMAT } from "../scripts/lib/manifest";
import {
  directoryBytes,
  formatBytes,
  newestBackupOf,
  stackBackups,
  teardownOf,
} from "../scripts/lib/status";
import { formatAge, shortImage } from "../scripts/lib/status-render";

/* The pure parts of `npm run status`: backups found, teardown fate, formatting. */

const settings = (extra: Record<string, unknown> = {}) =>
  parseSettings(withAppImages(extra), { stack: "dev", baseDir: "/srv/panopticon" });

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "status-unit-"))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const SHA = "0".repeat(64);
function writeBackup(
  name: string,
  stack: string,
  completedAt: string,
  sets: string[],
  dump = false,
) {
  const d = path.join(dir, "backups", name);
  fs.mkdirSync(d, { recursive: true });
  const manifest = {
    format: MANIFEST_FORMAT,
    project: "panopticon",
    stack,
    storageMode: "volume",
    startedAt: completedAt,
    completedAt,
    helperImage: "busybox:1",
    engineVersion: "20.10.24",
    method: [],
    images: [],
    entries: [
      ...sets.map((s) => ({
        kind: "archive",
        dataSet: s,
        service: s,
        backend: "volume",
        source: `panopticon-${stack}-${s}-data`,
        file: `${s}.tar`,
        bytes: 1,
        sha256: SHA,
        consistency: "no-container",
      })),
      ...(dump
        ? [
            {
              kind: "pg_dump",
              service: "postgres",
              database: "panopticon",
              user: "panopticon",
              format: "custom",
              file: "postgres.pgdump",
              bytes: 1,
              sha256: SHA,
              serverVersion: "15.8",
            },
          ]
        : []),
    ],
  };
  fs.writeFileSync(path.join(d, MANIFEST_FILE), JSON.stringify(manifest));
}

describe("newest backup per data set", () => {
  it("picks the newest complete backup of this stack that holds the data set", () => {
    writeBackup("dev-1", "dev", "2026-12-01T10:00:00Z", ["judge", "query"], true);
    writeBackup("dev-2", "dev", "2026-12-01T12:00:00Z", ["query"]);
    writeBackup("dev2-3", "dev2", "2026-12-01T13:00:00Z", ["judge"]); // another stack
    fs.mkdirSync(path.join(dir, "backups", "dev-4")); // interrupted: no manifest
    fs.writeFileSync(path.join(dir, "backups", "dev-4", "judge.tar.partial"), "");
    fs.mkdirSync(path.join(dir, "backups", "notes")); // not a backup of this stack's name

    const { backups, incomplete } = stackBackups(path.join(dir, "backups"), "dev");
    expect(backups.map((b) => path.basename(b.dir)).sort()).toEqual(["dev-1", "dev-2"]);
    expect(incomplete).toBe(1);

    const s = settings();
    const now = new Date("2026-12-01T12:30:00Z");
    const of = (key: string) =>
      newestBackupOf(
        backups,
        s.dataSets.find((d) => d.key === key)!,
        "postgres",
        dir,
        now,
      );
    expect(of("query")).toEqual({
      dir: path.join("backups", "dev-2"),
      completedAt: "2026-12-01T12:00:00Z",
      ageSeconds: 1800,
      kind: "files",
    });
    expect(of("judge")).toMatchObject({ dir: path.join("backups", "dev-1"), ageSeconds: 9000 });
    expect(of("postgres")).toMatchObject({ dir: path.join("backups", "dev-1"), kind: "pg_dump" });
    expect(of("evaluation")).toBeNull();
  });

  it("no backups/ directory: nothing found, nothing created", () => {
    expect(stackBackups(path.join(dir, "backups"), "dev")).toEqual({ backups: [], incomplete: 0 });
    expect(fs.existsSync(path.join(dir, "backups"))).toBe(false);
  });
});

describe("what a teardown does, from the protection policy", () => {
  it("volumes: retained; with protect: protected too; bind directories: kept", () => {
    const plain = settings();
    const d = plain.dataSets[0];
    expect(teardownOf(plain, d)).toEqual([true, "kept: retainOnDelete (dropped from state only)"]);
    const prot = settings({ protect: true });
    expect(teardownOf(prot, prot.dataSets[0])[1]).toMatch(/^kept: protect/);
    const bind = settings({ storageMode: "bind" });
    expect(teardownOf(bind, bind.dataSets[0])[1]).toMatch(/directory, which Pulumi never deletes/);
  });

  it("a policy that did not retain would be reported as deleted", () => {
    const s = settings();
    const unretained = {
      ...s,
      protection: { ...s.protection, retainOnDelete: false },
    } as unknown as typeof s;
    expect(teardownOf(unretained, s.dataSets[0])).toEqual([false, "deleted by pulumi destroy"]);
  });
});

describe("formatting", () => {
  it.each([
    [40, "40 s"],
    [60, "1 min"],
    [3599, "59 min"],
    [3600 * 5 + 120, "5 h 02 min"],
    [3600 * 52, "2 d 4 h"],
  ])("age %d s -> %s", (s, text) => expect(formatAge(s)).toBe(text));

  it("bytes", () => {
    expect([0, 999, 1000, 41_234_567, 12_300_000_000].map(formatBytes)).toEqual([
      "0B",
      "999B",
      "1.00kB",
      "41.2MB",
      "12.3GB",
    ]);
  });

  it("digests shortened, tags kept", () => {
    expect(shortImage(`ghcr.io/x/judge:1.0@sha256:${"ab".repeat(32)}`)).toBe(
      "ghcr.io/x/judge:1.0@sha256:abababababab…",
    );
    expect(shortImage("postgres:15")).toBe("postgres:15");
  });

  it("directory sizes count files, not links' targets", () => {
    fs.mkdirSync(path.join(dir, "a", "b"), { recursive: true });
    fs.writeFileSync(path.join(dir, "a", "one"), "12345");
    fs.writeFileSync(path.join(dir, "a", "b", "two"), "123");
    fs.symlinkSync("/etc/passwd", path.join(dir, "a", "link"));
    expect(directoryBytes(path.join(dir, "a"))).toBe(8 + "/etc/passwd".length);
    expect(directoryBytes(path.join(dir, "missing"))).toBeNull();
  });
});
