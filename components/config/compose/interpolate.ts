/*
 * Compose's variable interpolation (the Compose Specification, "Interpolation"):
 * `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
 * `${VAR:?err}` / `${VAR?err}` (required), `$$` for a literal `$`.
 *
 * The program reads neither the deployer's shell nor the checkout's `.env`: a
 * preview in CI and a `pulumi up` on a laptop must give the same containers, and
 * prod (which has no checkout) must run what dev ran. So a variable is never "set"
 * here: defaults apply, and every variable left without one is reported to the
 * caller, which decides (a secret, the computed DATABASE_URL, a stack override, or
 * a refusal that names it).
 */

/** The result of interpolating one string. */
export interface Interpolated {
  /** The value with defaults applied and unresolved variables replaced by "". */
  readonly value: string;
  /** Variables that had no default (`${VAR}`, `$VAR`, `${VAR:?err}`). */
  readonly unresolved: readonly string[];
  /** True when the whole string was one reference with no default, e.g. `${API_KEY}`. */
  readonly bare: boolean;
}

const NAME = "[A-Za-z_][A-Za-z0-9_]*";
const TOKEN = new RegExp(
  `\\$(?:\\$|(${NAME})|\\{(${NAME})(?:(:?[-?])((?:[^{}$]|\\$\\$)*))?\\})`,
  "g",
);

/** Interpolates `text`; throws a plain Error naming the fragment for a malformed `${...}`. */
export function interpolate(text: string): Interpolated {
  const unresolved: string[] = [];
  let consumed = 0;
  let out = "";
  for (const m of text.matchAll(TOKEN)) {
    const between = text.slice(consumed, m.index);
    if (between.includes("$"))
      throw new Error(`malformed variable reference in ${JSON.stringify(text)}`);
    out += between;
    consumed = m.index + m[0].length;
    if (m[0] === "$$") {
      out += "$";
      continue;
    }
    const name = m[1] ?? m[2];
    const op = m[3];
    if (op === ":-" || op === "-") {
      out += (m[4] ?? "").replace(/\$\$/g, "$");
      continue;
    }
    unresolved.push(name);
  }
  const rest = text.slice(consumed);
  if (rest.includes("$"))
    throw new Error(`malformed variable reference in ${JSON.stringify(text)}`);
  out += rest;
  const bare =
    unresolved.length === 1 && new RegExp(`^\\$(\\{${NAME}(:?\\?[^}]*)?\\}|${NAME})$`).test(text);
  return { value: out, unresolved, bare };
}
