#!/usr/bin/env node
'use strict';
// Plain JavaScript from `npm run build`: an installed package has no TypeScript source and no tsx to run it with.
const fs = require('node:fs');
const path = require('node:path');

const built = path.resolve(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(built)) {
  process.stderr.write(`payorch: ${path.relative(process.cwd(), built) || built} is missing: run npm run build\n`);
  process.exitCode = 1;
} else {
  require(built);
}
