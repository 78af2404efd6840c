import { spawn } from "child_process";
import { randomBytes } from "crypto";
import { Readable, Writable } from "stream";
import { pipeline } from "stream/promises";
import { docker, HELPER_LABEL } from "../docker";

/*
 * Where psql runs, one of two:
 * - a local stack: inside the stack's own Postgres container (docker exec), as backup
 *   and doctor reach it: no port is published and no password is needed;
 * - an AWS stack (RDS): a one-off helper container (`docker run --rm -i <psql image>`)
 *   on the Docker host, connecting with the RDS connection string. The string holds the
 *   password, so it never reaches a command line or a log: it becomes libpq's variables
 *   (PGHOST, PGPASSWORD, ...) in the docker CLI's environment, handed on by name
 *   (`-e PGPASSWORD`). Whatever psql prints is scrubbed of the password.
 * Either way a remote Docker host is reached through DOCKER_HOST.
 */

/** psql in the stack's own Postgres container. */
export interface PgContainer {
  readonly kind?: "container";
  readonly container: string;
  readonly user: string;
  readonly database: string;
}

/** psql in a helper container, reaching the database by URL (RDS). */
export interface PgUrl {
  readonly kind: "url";
  /** postgres://user:password@host:port/db: kept in memory, passed only through environments. */
  readonly url: string;
  /** Image with psql (and sh) the helper runs. */
  readonly image: string;
  /** Docker network the helper joins. @default the engine's default bridge */
  readonly network?: string;
  /** The URL without its password, for messages: `postgres://user@host:5432/db`. */
  readonly label: string;
}

/**
 * psql on this machine's PATH, reaching the database by URL: migrate-data inside the
 * ECS one-off task, whose image carries psql, with the URL from the task's secret.
 */
export interface PgDirect {
  readonly kind: "direct";
  /** postgres://user:password@host:port/db: kept in memory, passed only through the environment. */
  readonly url: string;
  /** The URL without its password, for messages. */
  readonly label: string;
}

export type PgTarget = PgContainer | PgUrl | PgDirect;

/** The URL without its password (for logs and the report). */
export function urlLabel(url: string): string {
  const u = new URL(url);
  u.password = "";
  return u.toString().replace(/:@/, "@");
}

/** Text with every form of the URL's password replaced by ***. */
export function scrub(pg: PgTarget, text: string): string {
  if (pg.kind !== "url" && pg.kind !== "direct") return text;
  const u = new URL(pg.url);
  let out = text.split(pg.url).join(pg.label);
  for (const secret of new Set([u.password, safeDecode(u.password)])) {
    if (secret.length > 0) out = out.split(secret).join("***");
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A short name for messages: the container, or the URL without its password. */
export const describePg = (pg: PgTarget) =>
  pg.kind === "url"
    ? `${pg.label} (psql in a ${pg.image} helper)`
    : pg.kind === "direct"
      ? `${pg.label} (psql in this task)`
      : `container ${pg.container}`;

export class PsqlError extends Error {
  constructor(
    readonly stderr: string,
    readonly code: number | null,
  ) {
    super(firstError(stderr) ?? `psql exited ${code}`);
    this.name = "PsqlError";
  }
}

/** The first ERROR line psql printed, without its prefix. */
export function firstError(stderr: string): string | undefined {
  const line = stderr.split("\n").find((l) => /\bERROR:/.test(l));
  return line?.replace(/^.*?ERROR:\s*/, "").trim() ?? (stderr.trim() || undefined);
}

/**
 * Runs the commands in order in one session (`-1`: one transaction; ON_ERROR_STOP:
 * the first error rolls everything back). Returns the rows printed, one line each.
 * `input` feeds a `COPY ... FROM STDIN` among the commands; `onLine` sees each row as
 * psql prints it, so an input may wait for rows printed before the COPY (and for
 * `onEnd`, psql's output ending, so it never waits for a psql that has stopped).
 */
export async function psql(
  pg: PgTarget,
  commands: readonly string[],
  o: {
    readonly transaction?: boolean;
    readonly input?: Readable;
    readonly onLine?: (line: string) => void;
    readonly onEnd?: () => void;
  } = {},
): Promise<string[]> {
  const flags = ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"];
  if (o.transaction !== false) flags.push("-1");
  for (const c of commands) flags.push("-c", c);
  const rows = new RowSink(o.onLine, o.onEnd);
  const r =
    pg.kind === "direct"
      ? await localPsql(flags, pgEnvOf(pg.url), rows, o.input)
      : await docker(
          pg.kind === "url"
            ? [...urlRunArgs(pg, o.input !== undefined), ...flags]
            : ["exec", ...(o.input ? ["-i"] : []), pg.container, "psql", ...flags].concat([
                "-U",
                pg.user,
                "-d",
                pg.database,
              ]),
          {
            input: o.input,
            output: rows,
            allowFail: true,
            ...(pg.kind === "url" ? { env: pgEnvOf(pg.url) } : {}),
          },
        );
  if (r.code !== 0) throw new PsqlError(scrub(pg, r.stderr), r.code);
  return rows.lines;
}

/** psql's stdout as lines (empty ones dropped), each handed to `onLine` as it completes. */
class RowSink extends Writable {
  readonly lines: string[] = [];
  private rest = "";

  constructor(
    private readonly onLine?: (line: string) => void,
    private readonly onEnd?: () => void,
  ) {
    super({ decodeStrings: true });
    this.on("close", () => this.onEnd?.());
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    const parts = (this.rest + chunk.toString("utf8")).split("\n");
    this.rest = parts.pop()!;
    for (const line of parts) this.take(line);
    done();
  }

  override _final(done: (e?: Error | null) => void): void {
    this.take(this.rest);
    done();
  }

  private take(line: string): void {
    if (line === "") return;
    this.lines.push(line);
    this.onLine?.(line);
  }
}

/** psql from PATH with libpq's variables in its environment (never the URL on its argv). */
function localPsql(
  flags: readonly string[],
  env: Record<string, string>,
  rows: Writable,
  input?: Readable,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("psql", flags, {
      env: { ...process.env, ...env },
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let err = "";
    const out = pipeline(child.stdout!, rows);
    child.stderr!.on("data", (b: Buffer) => {
      if (err.length < 64 * 1024) err += b.toString();
    });
    child.on("error", (e) => reject(new Error(`cannot run psql: ${e.message}`)));
    // psql may exit early (an error): EPIPE then shows through its exit code, and an
    // input still waiting for rows is ended.
    if (input !== undefined) pipeline(input, child.stdin!).catch(() => undefined);
    child.on("close", (code) => {
      if (input !== undefined && !input.readableEnded) input.destroy();
      out.then(
        () => resolve({ code, stderr: err }),
        (e: Error) => reject(e),
      );
    });
  });
}

/**
 * `docker run` of the psql helper, up to psql's own flags. The URL is never given to
 * any process as an argument (psql's own argv shows on the host in `ps`): the tool
 * splits it into libpq's variables (PGHOST, PGPASSWORD, ...), hands them to the docker
 * CLI in its environment, and `-e NAME` (a name, no value) copies each into the
 * helper's. Named and labelled like every helper (killChildren removes it on Ctrl-C),
 * no log kept, removed when psql exits.
 */
export function urlRunArgs(pg: PgUrl, interactive: boolean): string[] {
  return [
    "run",
    "--rm",
    ...(interactive ? ["-i"] : []),
    "--name",
    `panopticon-helper-psql-${randomBytes(4).toString("hex")}`,
    "--label",
    `${HELPER_LABEL}=psql`,
    "--log-driver",
    "none",
    ...(pg.network === undefined ? [] : ["--network", pg.network]),
    ...Object.keys(pgEnvOf(pg.url)).flatMap((k) => ["-e", k]),
    "--entrypoint",
    "psql",
    pg.image,
  ];
}

/** URL query parameters and the libpq variable each becomes. */
const PARAM_ENV: Record<string, string> = {
  sslmode: "PGSSLMODE",
  sslrootcert: "PGSSLROOTCERT",
  connect_timeout: "PGCONNECT_TIMEOUT",
  application_name: "PGAPPNAME",
  options: "PGOPTIONS",
  target_session_attrs: "PGTARGETSESSIONATTRS",
};

/**
 * libpq's variables for a postgres:// URL (user, password, host, port, database and
 * the query parameters above). Throws, naming the part but never its value, for what
 * it cannot carry (another scheme, no host, an unknown parameter).
 */
export function pgEnvOf(url: string): Record<string, string> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error("not a URL");
  }
  if (!/^postgres(ql)?:$/.test(u.protocol))
    throw new Error("not a postgres:// or postgresql:// URL");
  if (u.hostname === "") throw new Error("no host");
  const d = (s: string) => decodeURIComponent(s);
  const env: Record<string, string> = { PGHOST: u.hostname.replace(/^\[(.*)\]$/, "$1") };
  if (u.port !== "") env.PGPORT = u.port;
  if (u.username !== "") env.PGUSER = d(u.username);
  if (u.password !== "") env.PGPASSWORD = d(u.password);
  const db = d(u.pathname.replace(/^\//, ""));
  if (db !== "") env.PGDATABASE = db;
  for (const [k, v] of u.searchParams) {
    const name = PARAM_ENV[k];
    if (name === undefined) {
      throw new Error(
        `query parameter "${k}" is not carried (known: ${Object.keys(PARAM_ENV).join(", ")})`,
      );
    }
    env[name] = v;
  }
  return env;
}

/** A SQL string literal. */
export const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** A damaged relation: Postgres cannot read one of its files. */
export function isDamaged(message: string): boolean {
  return /could not open file|could not read block|invalid page|unexpected zero page|could not access status/i.test(
    message,
  );
}

/** Whether public.<table> exists. */
export async function tableExists(pg: PgTarget, table: string): Promise<boolean> {
  const [r] = await psql(pg, [`SELECT to_regclass(${lit(`public.${table}`)}) IS NOT NULL`], {
    transaction: false,
  });
  return r === "t";
}
