/*
 * Compose's value syntaxes the program translates: ports, volumes, durations and
 * memory sizes. Each parser returns the value, or a string saying what was expected.
 */

export interface Port {
  /** The port published on the host; undefined: none (compose would pick a random one). */
  readonly host?: number;
  readonly hostIp?: string;
  readonly container: number;
}

export type Volume =
  | {
      readonly kind: "bind";
      readonly source: string;
      readonly target: string;
      readonly readOnly: boolean;
    }
  | {
      readonly kind: "volume";
      readonly source: string;
      readonly target: string;
      readonly readOnly: boolean;
    };

const PORT_HINT = 'expected "[ip:]host:container[/tcp]" with single ports (no ranges, no udp)';

function portNumber(s: string | number | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  return /^\d{1,5}$/.test(String(s)) && n >= 1 && n <= 65535 ? n : undefined;
}

export function parsePort(
  p: string | { target: number; published?: string | number; host_ip?: string; protocol?: string },
): Port | string {
  if (typeof p === "object") {
    if (p.protocol !== undefined && p.protocol !== "tcp") return PORT_HINT;
    const container = portNumber(p.target);
    const host = p.published === undefined ? undefined : portNumber(p.published);
    if (container === undefined || (p.published !== undefined && host === undefined))
      return PORT_HINT;
    return { container, host, hostIp: p.host_ip };
  }
  const m = /^(?:(\[[0-9a-fA-F:]+\]|\d+\.\d+\.\d+\.\d+):)?(?:([^:]+):)?([^:/]+)(\/tcp)?$/.exec(p);
  if (!m) return PORT_HINT;
  const container = portNumber(m[3]);
  const host = m[2] === undefined ? undefined : portNumber(m[2]);
  if (container === undefined || (m[2] !== undefined && host === undefined)) return PORT_HINT;
  return { container, host, hostIp: m[1]?.replace(/^\[|\]$/g, "") };
}

export function parseVolume(
  v: string | { type: "bind" | "volume"; source: string; target: string; read_only?: boolean },
): Volume | string {
  if (typeof v === "object") {
    if (!v.target.startsWith("/")) return "expected an absolute target path inside the container";
    return { kind: v.type, source: v.source, target: v.target, readOnly: v.read_only ?? false };
  }
  const parts = v.split(":");
  if (parts.length < 2 || parts.length > 3) {
    return 'expected "source:target[:ro]" (an anonymous volume keeps no data across a replacement)';
  }
  const [source, target, mode] = parts;
  if (mode !== undefined && mode !== "ro" && mode !== "rw")
    return `expected mode ro or rw, not ${mode}`;
  if (!target.startsWith("/")) return "expected an absolute target path inside the container";
  const kind = /^[./~]/.test(source) ? "bind" : "volume";
  return { kind, source, target, readOnly: mode === "ro" };
}

const DURATION = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** `30s`, `1m30s`, `2h`: whole seconds. */
export function durationSeconds(d: string): number | string {
  const m = DURATION.exec(d);
  if (!m || d === "") return 'expected a duration such as "30s" or "1m30s"';
  const [h, min, s, ms] = m.slice(1).map((x) => Number(x ?? 0));
  if (ms % 1000 !== 0) return "expected whole seconds";
  return h * 3600 + min * 60 + s + ms / 1000;
}

const UNIT_MB: Record<string, number> = { b: 1 / 1048576, k: 1 / 1024, m: 1, g: 1024 };

/** `512M`, `1G`, `1gb`, or bytes: whole megabytes (MiB, as Docker counts them). */
export function memoryMb(m: string | number): number | string {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg])?b?$/i.exec(String(m).trim());
  if (!match) return 'expected a size such as "512M" or "1G"';
  const mb = Number(match[1]) * UNIT_MB[(match[2] ?? "b").toLowerCase()];
  if (!Number.isInteger(mb) || mb < 16) return "expected a whole number of megabytes, at least 16M";
  return mb;
}
