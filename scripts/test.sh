#!/usr/bin/env bash
# The whole test suite, on a fresh clone: installs what it needs, type-checks, then runs every test with Node's runner
# against real parts (sshd, a Temporal dev server, the lab).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npx tsc -p .
# Node 20 does not expand globs itself; the shell does. Files run one at a time (they start servers of their own).
exec node --import tsx --test --test-concurrency=1 --test-timeout=1200000 test/*.test.ts
