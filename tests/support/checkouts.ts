import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FixtureLayout, fixtureComposeText } from "../../scripts/bench/fixture-checkout";

/*
 * Fixture checkouts of Panopticon, made by the tests themselves: the stand-in source
 * tree of tests/fixtures/panopticon-src (one dockerfile per service, built on the
 * local test images) under a compose file of one layout. The compose files are the
 * bench's fixture (scripts/bench/fixture-checkout.ts), restated by hand from
 * ../shared/PANOPTICON.md and upstream's files; no test reads a sibling ../Argus.
 */

export const STAND_IN_SOURCE = path.join(__dirname, "..", "fixtures", "panopticon-src");
export type { FixtureLayout };

/** The compose text of one layout. */
export function composeText(layout: FixtureLayout): string {
  return fixtureComposeText(layout);
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
