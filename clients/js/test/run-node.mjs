// `npm test`: the unit suite, then the end-to-end suite against a real eddy-server, both in
// Node's test runner (Node 20 needs --experimental-websocket for its global WebSocket).
import { spawn } from 'node:child_process';
import { startHarness, websocketFlags } from './harness.mjs';

const dist = new URL('../dist/test/', import.meta.url).pathname;
const harness = await startHarness();
let status = 1;
try {
  // Not spawnSync: the harness answers the suite's control requests from this process.
  const run = spawn(process.execPath, [...websocketFlags, '--test', '--test-concurrency=1', `${dist}unit.test.js`, `${dist}e2e.test.js`], {
    stdio: 'inherit',
    env: { ...process.env, EDDY_TEST_CONTROL: harness.control },
  });
  status = await new Promise((resolve) => run.on('exit', (code) => resolve(code ?? 1)));
} finally {
  await harness.stop();
}
process.exit(status);
