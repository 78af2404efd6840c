import type { ResourceValidationPolicy } from "@pulumi/policy";
import { environmentConfigSchema } from "./environment";
import { inEnvironment, PackOptions, show, T } from "./match";

/* The network policies: local ports on loopback only, no security group open to the world. */

function isLoopback(ip: unknown): boolean {
  if (typeof ip !== "string") return false;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip) || ip === "::1";
}

const OPEN_V4 = "0.0.0.0/0";
const OPEN_V6 = "::/0";

function openCidrs(rule: Record<string, unknown>, v4Key: string, v6Key: string): string[] {
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  return [
    ...list(rule[v4Key]).filter((c) => c === OPEN_V4),
    ...list(rule[v6Key]).filter((c) => c === OPEN_V6),
  ].map(String);
}

/** In local stacks, containers publish ports on a loopback address only. */
function localPortsLoopback(opts: PackOptions): ResourceValidationPolicy {
  return {
    name: "local-ports-loopback",
    description: "In local stacks, containers publish ports on a loopback address only.",
    configSchema: environmentConfigSchema,
    validateResource: inEnvironment(opts, (env, args, report) => {
      if (env !== "local" || args.type !== T.container) return;
      const ports = args.props.ports;
      if (!Array.isArray(ports)) return;
      ports.forEach((p: Record<string, unknown>, i: number) => {
        if (p === null || typeof p !== "object" || p.external === undefined) return;
        if (!isLoopback(p.ip)) {
          report(
            `ports[${i}] (${show(p.internal)} -> host ${show(p.external)}) ip = ${show(p.ip)}: ` +
              'expected a loopback address such as "127.0.0.1" (Docker publishes on 0.0.0.0, every interface, when ip is not set)',
          );
        }
      });
    }),
  };
}

/** No security group (or rule) admits traffic from 0.0.0.0/0 or ::/0. */
const noPublicIngress: ResourceValidationPolicy = {
  name: "no-public-ingress",
  description: "No security group admits traffic from 0.0.0.0/0 or ::/0.",
  validateResource: (args, report) => {
    const props = args.props as Record<string, unknown>;
    if (args.type === T.securityGroup && Array.isArray(props.ingress)) {
      props.ingress.forEach((rule: Record<string, unknown>, i: number) => {
        const open = openCidrs(rule, "cidrBlocks", "ipv6CidrBlocks");
        if (open.length > 0) {
          report(
            `ingress[${i}] (ports ${show(rule.fromPort)}-${show(rule.toPort)}) allows ${open.join(", ")}: ` +
              "expected a private range, an admin CIDR or a security-group reference",
          );
        }
      });
    }
    if (args.type === T.securityGroupRule && props.type === "ingress") {
      const open = openCidrs(props, "cidrBlocks", "ipv6CidrBlocks");
      if (open.length > 0)
        report(`ingress rule allows ${open.join(", ")}: expected a narrower source`);
    }
    if (args.type === T.ingressRule) {
      const open = openCidrs(props, "cidrIpv4", "cidrIpv6");
      if (open.length > 0)
        report(`ingress rule allows ${open.join(", ")}: expected a narrower source`);
    }
  },
};

export function networkPolicies(opts: PackOptions): ResourceValidationPolicy[] {
  return [localPortsLoopback(opts), noPublicIngress];
}
