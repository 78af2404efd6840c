import * as fs from "fs";
import * as path from "path";
import { configSchema, SECRET_KEYS } from "../components/config/settings";
import { schemaKeys } from "../components/config/keys";

/*
 * docs/configuration.md against the settings schemas: every key the program accepts
 * is in one of its `key` tables, and every key there is one the program accepts. The
 * keys come from the zod schemas themselves (components/config/keys.ts), so a key
 * added to a schema fails here until it is documented.
 */

const DOC = path.join(__dirname, "..", "docs", "configuration.md");

/** `a.{b,c}.d` -> `a.b.d`, `a.c.d`. */
function expandBraces(key: string): string[] {
  const m = /\{([^{}]+)\}/.exec(key);
  if (!m) return [key];
  return m[1]
    .split(",")
    .flatMap((alt) =>
      expandBraces(key.slice(0, m.index) + alt.trim() + key.slice(m.index + m[0].length)),
    );
}

/** The keys in the first column of every markdown table whose header starts with `key`. */
function documentedKeys(markdown: string): Set<string> {
  const out = new Set<string>();
  let inKeyTable = false;
  for (const line of markdown.split("\n")) {
    if (!line.startsWith("|")) {
      inKeyTable = false;
      continue;
    }
    const first = line.split("|")[1].trim();
    if (/^key$/i.test(first)) {
      inKeyTable = true;
      continue;
    }
    if (!inKeyTable || /^-+$/.test(first)) continue;
    for (const [, span] of first.matchAll(/`([^`]+)`/g)) {
      for (const k of expandBraces(span.replace(/^panopticon:/, ""))) {
        out.add(k.replace(/<[^>]+>/g, "*"));
      }
    }
  }
  return out;
}

function compare(markdown: string) {
  const { all, leaves } = schemaKeys(configSchema);
  const documented = documentedKeys(markdown);
  const accepted = new Set([...all, ...SECRET_KEYS]);
  return {
    undocumented: [...leaves, ...SECRET_KEYS].filter((k) => !documented.has(k)).sort(),
    unknown: [...documented].filter((k) => !accepted.has(k)).sort(),
  };
}

const text = fs.readFileSync(DOC, "utf8");

it("every key the settings accept is documented, and every documented key is accepted", () => {
  expect(compare(text)).toEqual({ undocumented: [], unknown: [] });
});

it("the keys come from the schemas: nested, map and secret keys are all there", () => {
  const { leaves } = schemaKeys(configSchema);
  expect(leaves).toEqual(
    expect.arrayContaining([
      "appSource",
      "registry",
      "buildOnPreview",
      "imageReleasesKept",
      "services.*.data.composeVolume",
      "volumeNames.*",
      "aws.amiId",
      "aws.instanceType",
      "aws.efs.transitionToIa",
      "aws.rds.instanceClass",
      "aws.rds.allocatedStorageGb",
      "aws.rds.maxAllocatedStorageGb",
      "aws.rds.allowMajorVersionUpgrade",
    ]),
  );
  expect(leaves.length).toBeGreaterThan(80);
});

describe("the check can fail", () => {
  it("a row taken out of the docs is reported as undocumented", () => {
    const doctored = text
      .split("\n")
      .filter((l) => !l.startsWith("| `aws.amiId`"))
      .join("\n");
    expect(compare(doctored).undocumented).toEqual(["aws.amiId"]);
  });

  it("a key in the docs that the code does not accept is reported", () => {
    const doctored = text.replace(
      "| `bindAddress` ",
      "| `bindAdress`, `services.<name>.healthcheck.{test,interval}` ",
    );
    expect(compare(doctored)).toEqual({
      undocumented: ["bindAddress"],
      unknown: ["bindAdress", "services.*.healthcheck.interval"],
    });
  });

  it("reads only the key column of key tables, with braces and placeholders", () => {
    const md = [
      "| key | meaning |",
      "| --- | --- |",
      "| `a.<name>.{b,c}` | see `not.a.key` |",
      "",
      "| option | meaning |",
      "| --- | --- |",
      "| `--stack` | x |",
    ].join("\n");
    expect([...documentedKeys(md)].sort()).toEqual(["a.*.b", "a.*.c"]);
  });
});
