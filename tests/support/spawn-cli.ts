/**
 * Runs the CLI as its own process, as a shell would: `node bin/offpolicy.js -w WS ...args`
 * (the compiled CLI in dist/, which `npm ci` / `npm run build` writes). For what only a
 * process shows: its exit status.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const BIN = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'bin', 'offpolicy.js');

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}
