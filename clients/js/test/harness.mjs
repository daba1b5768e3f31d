// Test harness: runs a real eddy-server (release build, fresh data directory, random root
// password, a 1 MiB request limit so "over the limit" is cheap to hit) and a small HTTP control
// server on loopback that the suites use from Node and from the browser alike:
//   GET /env      -> { url, username, password, maxRequestSize }
//   POST /restart -> kills the server with SIGKILL and starts it again on the same data and port
//   GET /         -> the browser suite's page; /dist/* the built bundles
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const jsRoot = new URL('../', import.meta.url).pathname;
const repo = new URL('../../../', import.meta.url).pathname;
const MAX_REQUEST = 1 << 20;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, ms = 30_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const up = await new Promise((resolve) => {
      const c = connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
      c.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open`);
}

/** Node flags a child needs for the global WebSocket (Node 20; built in from 22). */
export const websocketFlags = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-websocket'] : [];

const types = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json' };

/** Starts the server and the control endpoint; returns `{ control, stop() }`. */
export async function startHarness() {
  const bin = process.env.EDDY_SERVER_BIN ?? join(repo, 'target/release/eddy-server');
  const data = mkdtempSync(join(tmpdir(), 'eddy-js-'));
  const [wsPort, tcpPort, controlPort] = [await freePort(), await freePort(), await freePort()];
  const password = randomBytes(12).toString('hex');
  const config = join(data, 'eddy.toml');
  writeFileSync(
    config,
    `[system]\ndata_dir = "${join(data, 'data')}"\nshards = 2\n` +
      `[tcp]\naddress = "127.0.0.1:${tcpPort}"\n` +
      `[websocket]\naddress = "127.0.0.1:${wsPort}"\nallowed_origins = ["http://127.0.0.1:${controlPort}"]\n` +
      `[limits]\nmax_request_size = ${MAX_REQUEST}\n` +
      `[auth]\nroot_password = "${password}"\n`,
  );
  let server;
  const start = async () => {
    server = spawn(bin, ['--config', config], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } });
    await waitForPort(wsPort);
  };
  const kill = () =>
    new Promise((resolve) => {
      if (!server || server.exitCode !== null) return resolve();
      server.once('exit', resolve);
      server.kill('SIGKILL');
    });
  await start();

  const env = { url: `ws://127.0.0.1:${wsPort}`, username: 'iggy', password, maxRequestSize: MAX_REQUEST };
  const http = createServer(async (req, res) => {
    try {
      const path = new URL(req.url, 'http://x').pathname;
      if (path === '/env') return res.end(JSON.stringify(env));
      if (path === '/restart' && req.method === 'POST') {
        await kill();
        await start();
        return res.end('{}');
      }
      const file = path === '/' ? 'test/browser.html' : path.startsWith('/dist/') ? path.slice(1) : null;
      if (!file || file.includes('..')) return res.writeHead(404).end();
      res.setHeader('Content-Type', types[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream');
      res.end(readFileSync(join(jsRoot, file)));
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise((r) => http.listen(controlPort, '127.0.0.1', r));
  return {
    control: `http://127.0.0.1:${controlPort}`,
    serverPid: () => server.pid,
    async stop() {
      http.close();
      await kill();
      rmSync(data, { recursive: true, force: true });
    },
  };
}
