import * as pulumi from "@pulumi/pulumi";
import { PolicyPack } from "@pulumi/policy";
import { createPolicies, PACK_NAME } from "./policies";

// Entry point run by `pulumi preview --policy-pack policy`. Pulumi hands Node.js
// policy packs the stack's config, so the pack knows whether it judges a local
// or an AWS stack without a separate config file (see environment.ts).
const stackEnvironment = new pulumi.Config("panopticon").get("environment");

new PolicyPack(PACK_NAME, {
  description:
    "Panopticon data safety: stateful resources protected, encrypted, private, and never destroyed by accident.",
  enforcementLevel: "mandatory",
  policies: createPolicies({ stackEnvironment }),
});
