import * as pulumi from "@pulumi/pulumi";
import { Panopticon } from "./components/panopticon";
import { parseSettings, rawFromPulumiConfig } from "./components/settings";

// Config is read and validated once; a bad value throws here, before any resource exists.
const settings = parseSettings(rawFromPulumiConfig(pulumi.runtime.allConfig()), {
  stack: pulumi.getStack(),
  baseDir: process.cwd(),
});
// A configured secret, or (when absent) a password the component generates.
const postgresPassword = new pulumi.Config().getSecret("postgresPassword");

const app = new Panopticon("panopticon", { settings, postgresPassword });

export const endpoints = app.endpoints;
export const volumes = app.volumes;
export const connectionString = app.connectionString;
export const protection = app.protectionSummary;
