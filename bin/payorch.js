#!/usr/bin/env node
'use strict';
// Runs the built CLI when `npm run build` has produced it, else the TypeScript source through tsx.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const built = path.join(root, 'dist', 'cli', 'main.js');
if (fs.existsSync(built)) {
  require(built);
} else {
  require('tsx/cjs');
  require(path.join(root, 'src', 'cli', 'main.ts'));
}
