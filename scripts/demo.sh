#!/usr/bin/env bash
# The Quick start's main job on the embedded default: brings up the lab (Debian nodes with systemd and sshd, the
# artifacts, an S3 store), then installs the docker registry on it, highly available behind a keepalived VIP on shared
# S3 storage, through a Temporal dev server kk starts itself. Safe to run again: everything is reused, nothing redone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm run -s lab -- up
lab() { node -e "const l=require('./.lab/lab.json'); console.log($1)"; }
S3=$(lab "'image_registry.docker_registry.storage.s3='+JSON.stringify({accesskey:l.s3.accesskey,secretkey:l.s3.secretkey,region:l.s3.region,bucket:l.s3.bucket,regionendpoint:l.s3.endpoint})")
node bin/kk.js precheck image_registry -i .lab/inventory.yaml --workdir .lab/work --set "$(lab "l.set['docker-registry']")" --set "image_registry.ha_vip=$(lab l.vip)" --set "$S3"
node bin/kk.js init registry -i .lab/inventory.yaml --workdir .lab/work --set "$(lab "l.set['docker-registry']")" --set "image_registry.ha_vip=$(lab l.vip)" --set "$S3"
node bin/kk.js runs --workdir .lab/work
node bin/kk.js server start --workdir .lab/work
echo "try it: npm run lab -- exec node2 -- docker pull $(lab l.vip)/kk-verify/probe:latest"
