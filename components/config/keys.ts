import type { z } from "zod";

/*
 * The config keys a zod schema accepts, read from the schema itself: the docs check
 * (tests/config-docs.test.ts) lists them, and "did you mean" draws its candidates
 * from them, so a key added to a schema is known to both without a second list.
 * A map whose keys are free (services, volumeNames, env, ...) is one `*` segment.
 */

type Schema = z.core.$ZodType;

interface Def {
  readonly type: string;
  readonly shape?: Record<string, Schema>;
  readonly innerType?: Schema;
  readonly valueType?: Schema;
  readonly options?: readonly Schema[];
  readonly in?: Schema;
}

const defOf = (s: Schema): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object or map schemas `s` stands for, past optional/default/union wrappers. */
function containers(s: Schema): Schema[] {
  const d = defOf(s);
  switch (d.type) {
    case "optional":
    case "default":
    case "nullable":
    case "prefault":
    case "readonly":
      return containers(d.innerType!);
    case "pipe":
      return containers(d.in!);
    case "union":
      return d.options!.flatMap(containers);
    case "object":
    case "record":
      return [s];
    default:
      return [];
  }
}

export interface SchemaKeys {
  /** Every key, objects included (`aws`, `aws.rds`, `aws.rds.instanceClass`). */
  readonly all: readonly string[];
  /** Keys that hold a value rather than further keys (`aws.rds.instanceClass`, `volumeNames.*`). */
  readonly leaves: readonly string[];
}

/** Every key path of `schema`, dotted, a free map key as `*`. */
export function schemaKeys(schema: Schema): SchemaKeys {
  const all: string[] = [];
  const leaves: string[] = [];
  const walk = (s: Schema, prefix: string) => {
    const inner = containers(s);
    if (inner.length === 0) {
      leaves.push(prefix);
      return;
    }
    for (const c of inner) {
      const d = defOf(c);
      const children: Array<[string, Schema]> =
        d.type === "object" ? Object.entries(d.shape!) : [["*", d.valueType!]];
      for (const [k, v] of children) {
        const key = prefix === "" ? k : `${prefix}.${k}`;
        if (!all.includes(key)) all.push(key);
        walk(v, key);
      }
    }
  };
  walk(schema, "");
  return { all: [...new Set(all)].sort(), leaves: [...new Set(leaves)].sort() };
}

/** The named keys of the object found at `path` (map keys match any name), or []. */
export function keysAt(schema: Schema, path: readonly PropertyKey[]): string[] {
  let here = containers(schema);
  for (const seg of path) {
    here = here.flatMap((c) => {
      const d = defOf(c);
      if (d.type === "record") return containers(d.valueType!);
      const next = d.shape![String(seg)];
      return next === undefined ? [] : containers(next);
    });
  }
  return here.flatMap((c) => (defOf(c).type === "object" ? Object.keys(defOf(c).shape!) : []));
}
