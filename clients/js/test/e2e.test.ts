// The end-to-end suite in Node's test runner, against the harness's server.
import { test } from 'node:test';
import { cases, type Env } from './suite.js';

const control = process.env.EDDY_TEST_CONTROL;
if (!control) throw new Error('EDDY_TEST_CONTROL is not set: run through test/run-node.mjs');
const env: Env = {
  ...(await (await fetch(`${control}/env`)).json()),
  restart: async () => void (await fetch(`${control}/restart`, { method: 'POST' })),
};
for (const c of cases) test(c.name, { timeout: 120_000 }, () => c.run(env));
