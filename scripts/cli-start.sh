#!/usr/bin/env bash
# How long the CLI takes to start: `kk config` (a one-host inventory) and `kk --help`, each run N times (default 10,
# after one warm-up run), median and min/max wall time in ms, and the median CPU time (user+sys, from /usr/bin/time
# when there is one: it moves less than wall time on a busy machine); from the compiled dist/ (what bin/kk.js runs)
# and from the TypeScript sources through tsx (what it ran before, and runs while dist/ is stale). Builds dist/ when
# stale.
#   bash scripts/cli-start.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10}"
node bin/build.js --if-stale

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp test/fixtures/tiny-inventory.yaml "$tmp/inventory.yaml"

node - "$N" "$tmp" <<'EOF'
const { spawnSync } = require('node:child_process');
const os = require('node:os');
const [n, tmp] = [Number(process.argv[2]), process.argv[3]];
const env = { ...process.env, KK_WORKDIR: `${tmp}/work`, TEMPORAL_ADDRESS: '' };
// tsx: what bin/kk.js did before dist/ (and does while dist/ is stale).
const viaTsx = ['-e', "require('tsx/cjs'); require('./cli/main.ts').run(process.argv.slice(1))", '--'];
const runs = {
  'kk config   dist': ['bin/kk.js', 'config', '-i', `${tmp}/inventory.yaml`],
  'kk --help   dist': ['bin/kk.js', '--help'],
  'kk config   tsx ': [...viaTsx, 'config', '-i', `${tmp}/inventory.yaml`],
  'kk --help   tsx ': [...viaTsx, '--help'],
};
const fs = require('node:fs');
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const ms = (t) => Number(t) / 1e6;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const load = () => os.loadavg()[0].toFixed(1);
console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load ${load()}; ${n} runs each after 1 warm-up`);
for (const [name, args] of Object.entries(runs)) {
  const wall = [];
  const cpu = [];
  for (let i = 0; i <= n; i++) {
    const out = `${tmp}/time.txt`;
    const [cmd, argv] = TIME ? [TIME, ['-f', '%U %S', '-o', out, process.execPath, ...args]] : [process.execPath, args];
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, argv, { env, encoding: 'utf8' });
    const t = ms(process.hrtime.bigint() - t0);
    if (r.status !== 0) throw new Error(`${name}: exit ${r.status}\n${r.stderr}`);
    if (i === 0) continue;
    wall.push(t);
    if (TIME) cpu.push(fs.readFileSync(out, 'utf8').trim().split(/\s+/).reduce((a, x) => a + Number(x) * 1000, 0));
  }
  const f = (x) => x.toFixed(0).padStart(5);
  console.log(`${name}  median ${f(median(wall))} ms   min ${f(Math.min(...wall))}   max ${f(Math.max(...wall))}${TIME ? `   cpu median ${f(median(cpu))} ms` : ''}`);
}
console.log(`load ${load()} at the end (on a busy machine wall times grow; compare the rows of one run)`);
EOF
