#!/usr/bin/env bash
# The whole test suite, on a fresh clone: installs what it needs, type-checks, then runs every test with Node's test
# runner against real parts (sshd, a Temporal dev server, the lab, a Temporal cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npx tsc -p .

# On a fresh machine the lab's builds (the node image, the artifacts, the Temporal cluster from its Go modules) take
# minutes: they start in the background now, beside the first test files (Node's runner takes them in name order,
# and those before the first lab test need no lab). A lab test's own `lab up` waits for this one (lab/up-lock.ts)
# and reports its error if it failed.
if [ "${KK_LAB_AS_IS:-}" != 1 ]; then
  mkdir -p .lab
  node --import tsx lab/main.ts up --temporal > .lab/up-background.log 2>&1 &
fi

# Node 20 does not expand globs itself; the shell does. Files run one at a time (they start servers of their own).
exec node --import tsx --test --test-concurrency=1 --test-timeout=1200000 test/*.test.ts
