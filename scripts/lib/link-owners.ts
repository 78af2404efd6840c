/*
 * tar records a symlink's owner but busybox tar cannot restore it (no lchown), so
 * the backup lists the owners of symlinks not owned by root and restore applies them.
 */

/** Lists `find` output as NUL-separated "uid:gid", "./path" pairs (any file name survives). */
export const LINK_OWNERS_SCRIPT =
  "cd /data && find . -type l -exec sh -c " +
  `'for f in "$@"; do printf "%s\\0%s\\0" "$(stat -c %u:%g "$f")" "$f"; done' sh {} +`;

/** Parses LINK_OWNERS_SCRIPT output, keeping links not owned by root (tar restores those). */
export function parseLinkOwners(out: string): Array<[string, string]> {
  const parts = out.split("\0");
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const [owner, file] = [parts[i] as string, parts[i + 1] as string];
    if (owner !== "0:0") pairs.push([owner, file]);
  }
  return pairs;
}
