import { CONTRACT_APPS } from "./compose-contract";

/*
 * Compose builds every app image and publishes none, so a stack names its images
 * (or, with appSource, builds them). Tests that are not about images use these.
 */
export const APP_IMAGES: Record<string, { image: string }> = Object.fromEntries(
  CONTRACT_APPS.map((s) => [s, { image: `registry.test/panopticon/${s}:1.0.0` }]),
);

/** `raw` with each app's image filled in, under any service settings it already has. */
export function withAppImages(raw: Record<string, unknown> = {}): Record<string, unknown> {
  const services = { ...((raw.services as Record<string, unknown>) ?? {}) };
  for (const [name, block] of Object.entries(APP_IMAGES)) {
    const own = services[name];
    if (own === false) continue;
    services[name] = { ...block, ...((own as object) ?? {}) };
  }
  return { ...raw, services };
}

/** The same images as a stack file's `panopticon:services` block (two-space indented config). */
export const APP_IMAGES_YAML =
  "  panopticon:services:\n" +
  Object.entries(APP_IMAGES)
    .map(([name, { image }]) => `    ${name}: {image: ${image}}\n`)
    .join("");
