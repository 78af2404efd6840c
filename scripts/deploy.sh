#!/usr/bin/env bash
# One command to set up and deploy a stack: ./scripts/deploy.sh dev
# Checks prerequisites, installs dependencies, selects (or creates) the stack,
# makes sure the Postgres password is a stable config secret, then runs `pulumi up`.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:-}
shift || true
if [ -z "$stack" ] || [ ! -f "Pulumi.$stack.yaml" ]; then
  echo "usage: scripts/deploy.sh STACK [pulumi up flags]; STACK must have a Pulumi.STACK.yaml (got '${stack}')" >&2
  exit 2
fi
# Node >= 22.6: Pulumi.yaml starts the program with --no-experimental-strip-types.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 6) ? 0 : 1)' 2>/dev/null; then
  echo "Node.js >= 22.6 is required (found $(node --version 2>/dev/null || echo none))" >&2
  exit 2
fi
command -v pulumi >/dev/null || { echo "the Pulumi CLI is required: https://www.pulumi.com/docs/install/" >&2; exit 2; }
if grep -q 'panopticon:environment: local' "Pulumi.$stack.yaml"; then
  docker info >/dev/null 2>&1 || { echo "stack $stack is local: a running Docker engine is required" >&2; exit 2; }
fi

npm install --ignore-scripts --no-audit --no-fund
pulumi stack select --create "$stack"
# A generated password would live only in stack state and be lost on `pulumi destroy`
# while the retained database keeps the old one: store it as a config secret once.
if ! pulumi config get postgresPassword >/dev/null 2>&1; then
  pulumi config set --secret postgresPassword "$(node -e 'console.log(require("crypto").randomBytes(24).toString("base64url"))')"
fi
pulumi up --stack "$stack" "$@"
