#!/usr/bin/env bash
# The Quick start's main job on the embedded default: brings up the lab (Debian nodes with systemd and sshd), then
# runs kk against it through a Temporal dev server kk starts itself. Safe to run again: everything is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm run -s lab -- up
node bin/kk.js facts -i .lab/inventory.yaml --workdir .lab/work
node bin/kk.js runs --workdir .lab/work
node bin/kk.js server start --workdir .lab/work
