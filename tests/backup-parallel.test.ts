import { spawnSync } from "child_process";
import * as path from "path";
import { PassThrough } from "stream";
import { inParallel } from "../scripts/lib/parallel";
import { ProgressBoard } from "../scripts/lib/progress";

describe("inParallel", () => {
  it("runs at most `jobs` at once and keeps the order of the results", async () => {
    let running = 0;
    let peak = 0;
    const out = await inParallel([30, 10, 20, 5, 15], 2, async (ms) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running -= 1;
      return ms * 2;
    });
    expect(out).toEqual([60, 20, 40, 10, 30]);
    expect(peak).toBe(2);
  });

  it("waits for every job before throwing the first failure (nothing still writes)", async () => {
    const finished: number[] = [];
    await expect(
      inParallel([1, 2, 3], 3, async (n) => {
        await new Promise((r) => setTimeout(r, n * 10));
        finished.push(n);
        if (n === 1) throw new Error("one failed");
        return n;
      }),
    ).rejects.toThrow("one failed");
    expect(finished.sort()).toEqual([1, 2, 3]);
  });
});

describe("ProgressBoard", () => {
  it("names each data set with its bytes and rate", () => {
    const board = new ProgressBoard(new PassThrough() as unknown as NodeJS.WriteStream);
    const a = board.start("judge");
    const b = board.start("query");
    a.update(3 * 1024 * 1024);
    b.update(1024);
    expect(board.line()).toMatch(
      /^judge 3\.0 MiB \(\S+ \S+\/s\) \| query 1\.0 KiB \(\S+ \S+\/s\)$/,
    );
    a.end();
    expect(board.line()).toMatch(/^query /);
    b.end();
  });

  it("off a terminal, prints a plain line per data set every few seconds", () => {
    const sink = new PassThrough();
    let text = "";
    sink.on("data", (c: Buffer) => (text += c.toString()));
    const board = new ProgressBoard(sink as unknown as NodeJS.WriteStream, 0);
    const t = board.start("judge");
    t.update(2048);
    t.end();
    expect(text).toMatch(/ {2}judge: 2\.0 KiB \(\S+ \S+\/s\)\n/);
    expect(text).not.toMatch(/\x1b\[/);
  });
});

describe("npm run backup -- --jobs", () => {
  it("a count outside 1-16 is bad input: exit 2, the value named, nothing done", () => {
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", "scripts/backup.ts", "--stack", "dev", "--jobs", "0"],
      { cwd: path.join(__dirname, ".."), encoding: "utf8" },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--jobs = "0": expected a whole number from 1 to 16/);
  });
});
