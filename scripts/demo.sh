#!/usr/bin/env bash
# The Quick start's main job on the embedded default: brings up the lab (Debian nodes with systemd and sshd, the
# artifacts), then runs the seed document's commands for Harbor, the default type: precheck, then the install on the
# lab's three nodes, highly available behind a keepalived VIP with Harbor replication between the nodes, through a
# Temporal dev server kk starts itself. Safe to run again: everything is reused, nothing redone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm run -s lab -- up
lab() { node -e "const l=require('./.lab/lab.json'); console.log($1)"; }
SET=$(lab "l.set.harbor")
VIP=$(lab l.vip)
node bin/kk.js precheck image_registry -i .lab/inventory.yaml --workdir .lab/work --set "$SET" --set "image_registry.ha_vip=$VIP"
node bin/kk.js init registry -i .lab/inventory.yaml --workdir .lab/work --set "$SET" --set "image_registry.ha_vip=$VIP"
node bin/kk.js runs --workdir .lab/work
node bin/kk.js server start --workdir .lab/work
echo "Harbor is at https://$VIP (user admin, password in .lab/work/secrets/image_registry_admin_password); on a node:"
echo "  npm run lab -- exec node2 -- docker login -u admin $VIP   # then: docker pull $VIP/kk-verify/probe:latest"
