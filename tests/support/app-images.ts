import { parse as parseYaml } from "yaml";
import { composeText, STAND_IN_SOURCE } from "./checkouts";
import { CONTRACT_APPS } from "./compose-contract";

/*
 * Compose builds every app image and publishes none, so a stack names its images
 * (or, with appSource, builds them). Tests that are not about images use these.
 */
export const APP_IMAGES: Record<string, { image: string }> = Object.fromEntries(
  CONTRACT_APPS.map((s) => [s, { image: `registry.test/panopticon/${s}:1.0.0` }]),
);

/** The public pgvector image of Postgres 15 (PANOPTICON.md), for stacks that build nothing. */
export const POSTGRES_IMAGE = "pgvector/pgvector:0.8.0-pg15-bookworm";

/** The compose-era layout as a promoted release carries it (no checkout needed). */
export function composeEraRelease(): { compose: Record<string, unknown> } {
  return { compose: parseYaml(composeText("compose-era")) as Record<string, unknown> };
}

/**
 * `raw` with each app's image filled in, under any service settings it already has;
 * a stack without a checkout or release gets the compose-era layout as its release.
 */
export function withAppImages(raw: Record<string, unknown> = {}): Record<string, unknown> {
  const services = { ...((raw.services as Record<string, unknown>) ?? {}) };
  const layout =
    raw.appSource === undefined && raw.release === undefined
      ? { release: composeEraRelease() }
      : {};
  const images = { ...APP_IMAGES, postgres: { image: POSTGRES_IMAGE } };
  for (const [name, block] of Object.entries(images)) {
    const own = services[name];
    if (own === false) continue;
    services[name] = { ...block, ...((own as object) ?? {}) };
  }
  return { ...raw, ...layout, services };
}

/**
 * The same images as a stack file's `panopticon:services` block (two-space indented
 * config), with the fixture checkout as the stack's layout (every image pinned, so
 * nothing is built from it).
 */
export const APP_IMAGES_YAML =
  `  panopticon:appSource: ${JSON.stringify(STAND_IN_SOURCE)}\n` +
  "  panopticon:services:\n" +
  Object.entries({ ...APP_IMAGES, postgres: { image: POSTGRES_IMAGE } })
    .map(([name, { image }]) => `    ${name}: {image: ${image}}\n`)
    .join("");
