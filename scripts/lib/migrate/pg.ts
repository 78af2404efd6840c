import { Readable } from "stream";
import { docker } from "../docker";

/*
 * psql inside the stack's own Postgres container (docker exec), as backup and
 * doctor reach it: no port is published and no password is needed, and a remote
 * Docker host is reached the same way.
 */

export interface PgTarget {
  readonly container: string;
  readonly user: string;
  readonly database: string;
}

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
 * `input` feeds a `COPY ... FROM STDIN` among the commands.
 */
export async function psql(
  pg: PgTarget,
  commands: readonly string[],
  o: { readonly transaction?: boolean; readonly input?: Readable } = {},
): Promise<string[]> {
  const args = ["exec", ...(o.input ? ["-i"] : []), pg.container, "psql", "-X", "-q", "-tA"];
  args.push("-v", "ON_ERROR_STOP=1", "-U", pg.user, "-d", pg.database);
  if (o.transaction !== false) args.push("-1");
  for (const c of commands) args.push("-c", c);
  const r = await docker(args, { input: o.input, allowFail: true });
  if (r.code !== 0) throw new PsqlError(r.stderr, r.code);
  return r.stdout.split("\n").filter((l) => l !== "");
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
