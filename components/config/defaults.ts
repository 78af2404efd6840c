import type { Environment } from "../protection";

/*
 * The defaults of the scalar settings. The services' defaults are compose's own, in
 * components/config/catalogue.ts. Pulumi.yaml declares the same scalar defaults
 * (tests/settings.test.ts keeps the two equal).
 */

/** Defaults of the scalar keys; Pulumi.yaml declares the same values (a test keeps them equal). */
export const DEFAULTS = {
  environment: "local" as Environment,
  storageMode: "volume" as "volume" | "bind",
  dataDir: "./data",
  bindAddress: "127.0.0.1",
  stopGraceSeconds: 90,
  initImage: "busybox:1.36.1",
  postgresDatabase: "panopticon",
  // compose made the role `postgres`; an adopted data directory has no other login role.
  postgresUser: "postgres",
  logLevel: "INFO",
};
