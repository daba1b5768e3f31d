// Builds the dashboard into crates/server/dashboard/ (committed; eddy-server compiles those files
// into its binary, so running the server needs no Node): dashboard.js bundled and minified from
// src/main.ts with eddy-js's sources, index.html and dashboard.css copied. Deterministic, so CI
// rebuilds and diffs against the committed copy.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const root = new URL('../', import.meta.url);
const at = (p) => new URL(p, root).pathname;
const out = at('../../crates/server/dashboard/');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [at('src/main.ts')],
  outfile: out + 'dashboard.js',
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(at('src/index.html'), out + 'index.html');
copyFileSync(at('src/dashboard.css'), out + 'dashboard.css');
const files = ['index.html', 'dashboard.js', 'dashboard.css'].map((f) => readFileSync(out + f));
const total = files.reduce((n, f) => n + f.length, 0);
const gz = files.reduce((n, f) => n + gzipSync(f, { level: 9 }).length, 0);
console.log(`dashboard: ${total} B in 3 files, ${gz} B gzipped, embedded in eddy-server`);
