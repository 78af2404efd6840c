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
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 22 ]; then
  echo "Node.js >= 22 is required (found $(node --version 2>/dev/null || echo none))" >&2
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
