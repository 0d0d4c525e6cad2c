#!/usr/bin/env node
// The CLI is written in TypeScript and run through tsx's require hook, so a fresh clone needs no build step.
require('tsx/cjs');
require('../cli/main.ts').run(process.argv.slice(2));
