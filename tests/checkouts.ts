import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/*
 * Fixture checkouts of Panopticon, made by the tests themselves: the stand-in source
 * tree of tests/fixtures/panopticon-src (one dockerfile per service, built on the
 * local test images) under a compose file of one layout. The compose files restate
 * ../shared/PANOPTICON.md by hand; no test reads a sibling ../Argus.
 */

export const STAND_IN_SOURCE = path.join(__dirname, "fixtures", "panopticon-src");
export const COMPOSE_FIXTURES = path.join(__dirname, "fixtures", "compose");
export type FixtureLayout = "compose-era" | "release-0.1";

/** The compose text of one layout (tests/fixtures/compose/<layout>.yml). */
export function composeText(layout: FixtureLayout): string {
  return fs.readFileSync(path.join(COMPOSE_FIXTURES, `${layout}.yml`), "utf8");
}

/**
 * A new checkout in a temporary directory: the stand-in tree with `compose` (a layout
 * name, or compose text of a synthetic layout) as its docker-compose.yml.
 */
export function makeCheckout(compose: FixtureLayout | { text: string }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "panopticon-checkout-"));
  fs.cpSync(STAND_IN_SOURCE, dir, { recursive: true });
  const text = typeof compose === "string" ? composeText(compose) : compose.text;
  fs.writeFileSync(path.join(dir, "docker-compose.yml"), text);
  return dir;
}
