// Starts the real server binary for the run and stops it afterwards: a fresh SQLite database
// in a temporary directory, the offline engine, sign-up open, rate limits on, listening on the
// port the config picked. Its log goes to e2e/artifacts/server.log. Also empties
// e2e/artifacts/screenshots so it holds only this run's pages.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FullConfig } from '@playwright/test';

const artifacts = path.join(__dirname, 'artifacts');

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    return res.status === 200;
  } catch {
    return false;
  }
}

export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  const shots = path.join(artifacts, 'screenshots');
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });

  const bin = process.env.E2E_BIN!;
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: run cargo build -p flowpilot (or e2e/run.sh)`);
  }
  const port = process.env.E2E_PORT!;
  const base = `http://127.0.0.1:${port}`;
  const data = mkdtempSync(path.join(tmpdir(), 'flowpilot-e2e-'));
  const logFile = path.join(artifacts, 'server.log');
  const log = openSync(logFile, 'w');

  // An environment of its own: no provider key, configuration file or model directory of the
  // caller's may change what is under test.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: data,
    FLOWPILOT_BIND: `127.0.0.1:${port}`,
    FLOWPILOT_DATABASE_URL: `sqlite://${path.join(data, 'flowpilot.db')}`,
    FLOWPILOT_ALLOW_SIGNUP: 'true',
    FLOWPILOT_LLM_PROVIDER: 'offline',
    FLOWPILOT_RATE_LIMITS: process.env.E2E_RATE_LIMITS ?? 'on',
    // Every test signs up from this one address, faster than people do.
    FLOWPILOT_SIGNUPS_PER_MINUTE: '1000',
    FLOWPILOT_LOGINS_PER_ADDRESS_PER_MINUTE: '1000',
    // A fixed test key, so the PSA specs can store (fake) credentials.
    FLOWPILOT_SECRET_KEY: process.env.E2E_SECRET_KEY ?? 'ZTJlLXRlc3Qta2V5LW5vdC1mb3ItcHJvZHVjdGlvbiE=',
    RUST_LOG: process.env.E2E_RUST_LOG ?? 'info',
    NO_COLOR: '1',
  };
  const server = spawn(bin, ['serve'], { env, stdio: ['ignore', log, log] });
  let exited: string | null = null;
  server.on('exit', (code, signal) => {
    exited = `exit code ${code}, signal ${signal}`;
  });
  const killOnExit = () => server.kill('SIGKILL');
  process.on('exit', killOnExit);

  const deadline = Date.now() + 60_000;
  while (!(await ready(`${base}/readyz`))) {
    if (exited !== null || Date.now() > deadline) {
      server.kill('SIGKILL');
      rmSync(data, { recursive: true, force: true });
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      throw new Error(`the server did not become ready (${exited ?? 'timed out'}):\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return async () => {
    if (exited === null) {
      const stopped = new Promise<void>((resolve) => server.once('exit', () => resolve()));
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
      await stopped;
      clearTimeout(timer);
    }
    process.off('exit', killOnExit);
    rmSync(data, { recursive: true, force: true });
  };
}
