// Bundles the SDK (dist/eddy.js: ES module, minified) and the test suites (dist/test/), and
// reports the SDK's size minified and gzipped against its 12 KB budget (also written to
// dist/size.json).
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const root = new URL('../', import.meta.url);
const at = (p) => new URL(p, root).pathname;
const BUDGET = 12 * 1024;

await build({
  entryPoints: [at('src/index.ts')],
  outfile: at('dist/eddy.js'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
});
const min = readFileSync(at('dist/eddy.js'));
const gz = gzipSync(min, { level: 9 }).length;
writeFileSync(at('dist/size.json'), JSON.stringify({ minified: min.length, gzipped: gz, budget: BUDGET }) + '\n');
console.log(`eddy-js bundle: ${min.length} B minified, ${gz} B min+gz (budget ${BUDGET} B)`);
if (gz > BUDGET) {
  console.error('eddy-js is over its size budget');
  process.exit(1);
}

await build({
  entryPoints: [at('test/unit.test.ts'), at('test/e2e.test.ts'), at('test/browser.ts')],
  outdir: at('dist/test'),
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  external: ['node:*'],
  logLevel: 'warning',
});

