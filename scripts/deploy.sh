#!/usr/bin/env bash
# One command to set up and deploy a stack: ./scripts/deploy.sh dev [pulumi up flags]
#
# 1. Checks everything the stack needs and lists each missing thing on its own line
#    (nothing run): Node >= 22.6, the Pulumi CLI, a running Docker engine (local
#    stacks) or AWS credentials (AWS stacks), and where the services come from:
#    panopticon:appSource must be a Panopticon checkout (a directory holding its
#    docker-compose.yml), or the stack holds a promoted release (panopticon:release).
#
# Exit codes, as every tool here (README, "Exit codes"; scripts/lib/exit-codes.ts):
#   0 deployed   1 a step failed or refused (the pre-change backup, pulumi up)
#   2 bad arguments or stack file   3 something this machine lacks (Node, Pulumi CLI,
#   Docker engine, AWS credentials, the checkout, a reachable backend or the passphrase)
# 2. With no Pulumi backend logged in, logs in to Pulumi's file backend inside this
#    project (.pulumi-state/, git-ignored). An existing login is never changed.
# 3. On a backend that encrypts secrets with a passphrase, creates one per stack once
#    (mode 0600, path printed) and hands it over through PULUMI_CONFIG_PASSPHRASE_FILE;
#    later runs reuse it. A passphrase already set in the environment wins.
# 4. npm install, pulumi stack select --create, the Postgres password stored once as a
#    config secret, then (local stacks) a preview, whose failure prints the program's
#    own diagnostics and stops (exit 1), then `pulumi up` with the remaining arguments.
#    Temp files are removed on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."
project_dir=$PWD

# Which services there are, and whether each has an image, is the program's to say
# (the checkout's docker-compose.yml or the promoted release): it refuses a gap in its
# own words (for a local stack, shown from the preview below).

say() { printf 'deploy: %s\n' "$*" >&2; }

stack=${1:-}
shift || true
if [ -z "$stack" ] || [ "${stack#-}" != "$stack" ] || [ ! -f "Pulumi.$stack.yaml" ]; then
  known=
  for f in Pulumi.*.yaml; do
    [ -f "$f" ] || continue
    name=${f#Pulumi.}
    known+="${name%.yaml} "
  done
  echo "usage: scripts/deploy.sh STACK [pulumi up flags]; STACK = '${stack}': expected a stack with a Pulumi.STACK.yaml here (${known})" >&2
  exit 2
fi
stack_file="Pulumi.$stack.yaml"

# ---------------------------------------------------------------- prerequisites
missing=()
missing_env=false
# need MESSAGE: this machine lacks something (exit 3); need_config MESSAGE: the stack file does (exit 2).
need() {
  missing+=("$1")
  missing_env=true
}
need_config() { missing+=("$1"); }

node_ok=false
if node_version=$(node --version 2>/dev/null); then
  IFS=. read -r major minor _ <<<"${node_version#v}"
  # Node's own type stripping must be switchable off (Pulumi.yaml nodeargs): 22.6 or later.
  if [ "${major:-0}" -gt 22 ] 2>/dev/null || { [ "${major:-0}" -eq 22 ] && [ "${minor:-0}" -ge 6 ]; } 2>/dev/null; then
    node_ok=true
  else
    need "Node.js >= 22.6 is required (found $node_version): install a current Node.js, e.g. from https://nodejs.org or with nvm"
  fi
else
  need "Node.js >= 22.6 is required (node not found on PATH): install it from https://nodejs.org or with nvm"
fi

command -v pulumi >/dev/null 2>&1 ||
  need "the Pulumi CLI is required (pulumi not found on PATH): install it with 'curl -fsSL https://get.pulumi.com | sh', see https://www.pulumi.com/docs/install/"

# The few stack-file facts the checks need, read without node_modules (which npm
# install has not fetched yet on a fresh machine): the environment, the checkout and
# whether a release was promoted. Pulumi writes stack files in block style.
environment=local
app_source=
has_release=false
if $node_ok; then
  facts=$(node - "$stack_file" <<'JS'
const fs = require("fs");
const lines = fs.readFileSync(process.argv[2], "utf8").split(/\r?\n/);
const values = new Map(); // "a.b.c" -> scalar text
const stack = []; // [indent, key]
for (const raw of lines) {
  if (/^\s*(#|$)/.test(raw) || /^\s*-/.test(raw)) continue;
  const m = /^(\s*)(.+?):(?:\s+(.*?))?\s*$/.exec(raw.replace(/\s+#.*$/, ""));
  if (!m) continue;
  const indent = m[1].length;
  while (stack.length > 0 && stack[stack.length - 1][0] >= indent) stack.pop();
  const key = m[2].replace(/^["']|["']$/g, "");
  stack.push([indent, key]);
  if (m[3] !== undefined && m[3] !== "") {
    values.set(stack.map((s) => s[1]).join("\u0000"), m[3].replace(/^["']|["']$/g, ""));
  }
}
const get = (...p) => values.get(p.join("\u0000"));
const release = ["config", "panopticon:release"].join("\u0000");
const hasRelease = lines.some((l) => /^\s+panopticon:release:/.test(l)) || [...values.keys()].some((k) => k.startsWith(release));
console.log(`environment=${get("config", "panopticon:environment") ?? "local"}`);
console.log(`app_source=${get("config", "panopticon:appSource") ?? ""}`);
console.log(`has_release=${hasRelease}`);
JS
  ) || {
    say "cannot read $stack_file"
    exit 2
  }
  environment=$(sed -n 's/^environment=//p' <<<"$facts")
  app_source=$(sed -n 's/^app_source=//p' <<<"$facts")
  has_release=$(sed -n 's/^has_release=//p' <<<"$facts")
fi

if [ "$environment" = local ]; then
  if ! command -v docker >/dev/null 2>&1; then
    need "stack $stack is local: Docker is required (docker not found on PATH): install Docker Engine, https://docs.docker.com/engine/install/"
  elif ! docker info >/dev/null 2>&1; then
    need "stack $stack is local: no Docker engine answers 'docker info': start it (sudo systemctl start docker) or set DOCKER_HOST"
  fi
elif [ "$environment" = aws ]; then
  aws_creds=false
  if [ -n "${AWS_ACCESS_KEY_ID:-}" ] || [ -n "${AWS_PROFILE:-}" ] || [ -n "${AWS_WEB_IDENTITY_TOKEN_FILE:-}" ] ||
    [ -n "${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI:-}" ] ||
    [ -f "${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" ] || [ -f "${AWS_CONFIG_FILE:-$HOME/.aws/config}" ]; then
    aws_creds=true
  elif command -v aws >/dev/null 2>&1 && aws sts get-caller-identity >/dev/null 2>&1; then
    aws_creds=true # an instance role or SSO session the files do not show
  fi
  $aws_creds ||
    need "stack $stack is on AWS: no AWS credentials found: run 'aws configure' (or 'aws sso login'), or set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
fi

if $node_ok && [ -n "$app_source" ]; then
  # The program reads its services from the checkout's docker-compose.yml: without one
  # it can only refuse, so say so here, before anything is logged in or created.
  # Relative to the project directory, exactly as components/settings resolves it.
  src=$(node -e 'console.log(require("path").resolve(process.argv[1]))' "$app_source")
  clone="run 'git clone https://github.com/rbownes/Argus $app_source' in $project_dir, or fix panopticon:appSource in $stack_file"
  if [ ! -d "$src" ]; then
    need "stack $stack: panopticon:appSource = '$app_source': directory $src not found: $clone"
  elif [ ! -f "$src/docker-compose.yml" ]; then
    need "stack $stack: panopticon:appSource = '$app_source': $src has no docker-compose.yml, so it is not a Panopticon checkout: $clone"
  fi
elif $node_ok && [ "$has_release" != true ]; then
  need_config "stack $stack: no Panopticon checkout (panopticon:appSource) and no promoted release (panopticon:release): clone https://github.com/rbownes/Argus and add 'panopticon:appSource: ../Argus' to $stack_file, or promote a release into it (npm run promote)"
fi

if [ ${#missing[@]} -gt 0 ]; then
  printf 'deploy: missing: %s\n' "${missing[@]}" >&2
  say "nothing was run (${#missing[@]} thing(s) to fix above)"
  if $missing_env; then exit 3; fi
  exit 2
fi

# ---------------------------------------------------------------- backend
backend=
if whoami=$(pulumi whoami --verbose 2>/dev/null); then
  backend=$(sed -n 's/^Backend URL: *//p' <<<"$whoami")
  say "using the Pulumi backend you are logged in to: ${backend:-$(head -n1 <<<"$whoami")}"
elif [ -n "${PULUMI_BACKEND_URL:-}" ]; then
  # A backend chosen on purpose that does not answer: never replace it with another.
  say "PULUMI_BACKEND_URL = '$PULUMI_BACKEND_URL' but 'pulumi whoami' fails with it: fix the backend (or unset the variable); nothing was changed"
  exit 3
elif pulumi_current=$(node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).current; if (!c) process.exit(1); console.log(c)' "${PULUMI_HOME:-$HOME/.pulumi}/credentials.json" 2>/dev/null); then
  # Logged in once, unreachable now (offline, expired token): switching would hide those stacks.
  say "you are logged in to the Pulumi backend $pulumi_current but 'pulumi whoami' fails: log in again ('pulumi login $pulumi_current') or check the network; nothing was changed"
  exit 3
else
  backend="file://$project_dir/.pulumi-state"
  mkdir -p "$project_dir/.pulumi-state"
  say "no Pulumi backend is logged in: using Pulumi's local file backend $backend (state stays on this machine, in .pulumi-state/, which git ignores)"
  pulumi login "$backend" >/dev/null
fi

# ---------------------------------------------------------------- passphrase
# Pulumi Cloud encrypts secrets itself; every self-managed backend (file, s3, gs,
# azblob) defaults to a passphrase, as does a stack file with an encryptionsalt.
uses_passphrase=false
case "$backend" in https://*) ;; *) uses_passphrase=true ;; esac
grep -q '^encryptionsalt:' "$stack_file" && uses_passphrase=true
grep -Eq '^secretsprovider: *[a-z]+://' "$stack_file" && uses_passphrase=false
if $uses_passphrase; then
  if [ -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] || [ -n "${PULUMI_CONFIG_PASSPHRASE+set}" ]; then
    say "using the passphrase already set in PULUMI_CONFIG_PASSPHRASE${PULUMI_CONFIG_PASSPHRASE_FILE:+_FILE ($PULUMI_CONFIG_PASSPHRASE_FILE)}"
  else
    pass_dir="${XDG_CONFIG_HOME:-$HOME/.config}/panopticon"
    pass_file="$pass_dir/$stack.passphrase"
    if [ -s "$pass_file" ]; then
      say "using the passphrase of stack $stack in $pass_file"
    elif grep -q '^encryptionsalt:' "$stack_file"; then
      say "$stack_file has an encryptionsalt: stack $stack already has a passphrase, and $pass_file does not hold it: export PULUMI_CONFIG_PASSPHRASE (or _FILE) with it; nothing else was changed"
      exit 3
    else
      (
        umask 077
        mkdir -p "$pass_dir"
        set -o noclobber # never overwrite a passphrase, even one created meanwhile
        node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64url") + "\n")' >"$pass_file"
      )
      chmod 600 "$pass_file"
      say "created a passphrase for stack $stack in $pass_file (mode 0600): keep it, the stack's secrets cannot be read without it"
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE="$pass_file"
  fi
fi

# ---------------------------------------------------------------- deploy
npm install --ignore-scripts --no-audit --no-fund
pulumi stack select --create "$stack"
# A generated password would live only in stack state and be lost on `pulumi destroy`
# while the retained database keeps the old one: store it as a config secret once.
if ! pulumi config get --stack "$stack" postgresPassword >/dev/null 2>&1; then
  pulumi config set --stack "$stack" --secret postgresPassword "$(node -e 'console.log(require("crypto").randomBytes(24).toString("base64url"))')"
fi

# The program's error diagnostics from `pulumi preview --json`: a ConfigError's
# heading and its "  - " lines alone (no runner banner, stack frames or colours);
# any other error as the program reported it; and what pulumi wrote to stderr when
# its JSON holds no error at all (a CLI or backend failure).
preview_failure() {
  node - "$1" "$2" <<'JS'
const fs = require("fs");
const [previewFile, stderrFile] = process.argv.slice(2);
const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
let doc;
try {
  doc = JSON.parse(fs.readFileSync(previewFile, "utf8"));
} catch {
  doc = undefined;
}
const errors = (Array.isArray(doc?.diagnostics) ? doc.diagnostics : [])
  .filter((d) => d && d.severity === "error" && typeof d.message === "string")
  .map((d) => plain(d.message).trim())
  .filter((m) => m !== "" && m !== "preview failed");
const out = [];
for (const message of errors) {
  const lines = message.split("\n");
  const head = lines.findIndex((l) => l.includes("Invalid configuration for stack"));
  if (head < 0) {
    out.push(message);
    continue;
  }
  out.push(lines[head].slice(lines[head].indexOf("Invalid configuration for stack")));
  for (const l of lines.slice(head + 1)) {
    if (!l.startsWith("  - ")) break;
    out.push(l);
  }
}
if (out.length === 0) {
  let stderr = "";
  try {
    stderr = fs.readFileSync(stderrFile, "utf8").trim();
  } catch {}
  out.push(stderr || "pulumi preview failed and printed no diagnostics");
}
console.log(out.join("\n"));
JS
}

# ==== before_up: the last step before `pulumi up` changes anything ====
# A local stack whose preview gives a data-bearing service another image is backed up
# first: ChromaDB and Postgres migrate their files forward only, so this backup is the
# way back (docs/upgrades.md). Nothing to back up prints nothing. A preview the program
# refuses prints the program's own reasons, not just pulumi's "preview failed".
work_dir=
cleanup() { if [ -n "$work_dir" ]; then rm -rf "$work_dir"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
before_up() {
  [ "$environment" = local ] || return 0
  local preview errors dir
  work_dir=$(mktemp -d)
  preview="$work_dir/preview.json"
  errors="$work_dir/preview.stderr"
  if ! pulumi preview --stack "$stack" --json >"$preview" 2>"$errors"; then
    preview_failure "$preview" "$errors" >&2
    say "the preview of stack $stack failed (above); nothing was deployed"
    exit 1
  fi
  cat "$errors" >&2 # warnings stay visible
  if ! dir=$(npm run --silent backup:before-change -- --stack "$stack" --preview "$preview"); then
    echo "deploy: the backup before the change failed; nothing was deployed" >&2
    exit 1
  fi
  if [ -n "$dir" ]; then echo "deploy: backed up before the change: $dir"; fi
  cleanup
  work_dir=
}
before_up

pulumi up --stack "$stack" "$@"
