import { docker, inspectContainer } from "./docker";
import { RefusedError } from "./stack";

/*
 * The throw-away Postgres server of an upgrade: which major an image runs, when
 * a freshly initialised server really accepts connections, and which restore
 * errors are expected.
 */

export async function serverMajor(image: string): Promise<number> {
  const r = await docker([
    "run",
    "--rm",
    "--network",
    "none",
    "--entrypoint",
    "postgres",
    image,
    "--version",
  ]);
  const m = /\(PostgreSQL\)\s+(\d+)/.exec(r.stdout);
  if (!m)
    throw new RefusedError(
      `image ${image}: "postgres --version" printed ${JSON.stringify(r.stdout.trim())}: expected a Postgres server image`,
    );
  return Number(m[1]);
}

export async function waitReady(name: string, user: string, password: string): Promise<void> {
  for (let i = 0; i < 240; i++) {
    // Over TCP: an entrypoint's temporary init server listens on the socket only.
    const r = await docker(
      [
        "exec",
        "-e",
        `PGPASSWORD=${password}`,
        name,
        "psql",
        "-X",
        "-h",
        "127.0.0.1",
        "-U",
        user,
        "-d",
        "postgres",
        "-tAc",
        "SELECT 1",
      ],
      { allowFail: true },
    );
    if (r.code === 0 && r.stdout.trim() === "1") return;
    const state = await inspectContainer(name);
    if (state !== undefined && !state.running) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  const logs = await docker(["logs", "--tail", "20", name], { allowFail: true });
  throw new Error(
    `the new server in ${name} did not become ready: ${(logs.stdout + logs.stderr).trim()}`,
  );
}

/** Restore errors other than the role the new cluster was initialised with. */
export function unexpectedRestoreErrors(stderr: string, user: string): string[] {
  return stderr
    .split("\n")
    .filter((l) => /\bERROR:/.test(l))
    .filter((l) => !l.includes(`role "${user}" already exists`));
}
