#!/usr/bin/env node
// Runs the built API and one worker together, for local use and the quick start.
// Signals go to both; when either exits on its own, the other is stopped too.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entries = { api: 'apps/api/dist/server.js', worker: 'apps/worker/dist/main.js' };

for (const entry of Object.values(entries)) {
  if (!existsSync(new URL(`../${entry}`, import.meta.url))) {
    console.error(`${entry} is missing: run "pnpm build" first (pnpm start does).`);
    process.exit(1);
  }
}

const children = Object.entries(entries).map(([name, entry]) => {
  const child = spawn(process.execPath, [entry], { cwd: root, stdio: 'inherit' });
  return { name, child };
});

let stopping = false;
function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  for (const { child } of children) if (child.exitCode === null) child.kill(signal);
}

process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));

let exitCode = 0;
await Promise.all(
  children.map(
    ({ name, child }) =>
      new Promise((resolve) => {
        child.on('exit', (code, signal) => {
          if (!stopping) console.error(`${name} exited (${code ?? signal}); stopping the rest`);
          if (code) exitCode = code;
          stopAll('SIGTERM');
          resolve();
        });
      }),
  ),
);
process.exit(exitCode);
