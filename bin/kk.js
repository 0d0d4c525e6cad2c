#!/usr/bin/env node
// kk runs the JavaScript `npm run build` compiled into dist/ (scripts/ensure-deps.sh and the Dockerfile build it).
// When dist/ is missing or was not built from exactly the sources on disk (a developer edited them), kk runs the
// TypeScript sources through tsx instead: slower to start (it compiles), never stale. It does not rebuild by itself:
// the compiler is a dev dependency, the install may be read-only, and concurrent kk commands would race to rebuild.
'use strict';
// Node 22.1+ keeps V8's compiled code between runs (a third of what is left of the start); Node 20 has no such cache.
require('node:module').enableCompileCache?.();
const argv = process.argv.slice(2);
const stale = require('./build').staleReason();
if (!stale) {
  require('../dist/cli/main.js').run(argv);
} else {
  if (process.stderr.isTTY) process.stderr.write(`kk: ${stale}; running the sources through tsx (slower start; \`npm run build\` makes it fast)\n`);
  require('tsx/cjs');
  require('../cli/main.ts').run(argv);
}
