#!/usr/bin/env bash
# The whole test suite, on a fresh clone: installs what it needs, type-checks, then runs every test with Node's test
# runner against real parts (sshd, a Temporal dev server, the lab, a Temporal cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npx tsc -p .

# The test files that use the lab (its nodes or its Docker engine), and the others.
mapfile -t lab_files < <(grep -l -e "support/lab'" -e "lab/docker-engine'" test/*.test.ts)
mapfile -t other_files < <(grep -L -e "support/lab'" -e "lab/docker-engine'" test/*.test.ts)

# On a fresh machine the lab's builds (the node image, the artifacts, the Temporal cluster from its Go modules) take
# minutes: they run in the background while the tests that need no lab go first. A lab test's own `lab up` waits for
# this one (lab/up-lock.ts) and reports its error if it failed.
if [ "${KK_LAB_AS_IS:-}" != 1 ]; then
  mkdir -p .lab
  node --import tsx lab/main.ts up --temporal > .lab/up-background.log 2>&1 &
fi

# Files run one at a time (they start servers of their own).
exec node --import tsx --test --test-concurrency=1 --test-timeout=1200000 "${other_files[@]}" "${lab_files[@]}"
