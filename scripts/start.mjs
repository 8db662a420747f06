#!/usr/bin/env node
// Runs the built API and one worker together, for local use and the quick start.
// Signals go to both, once; when either exits on its own, the other is stopped too.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startEnvironment } from './start-env.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const entries = { api: 'apps/api/dist/server.js', worker: 'apps/worker/dist/main.js' };

for (const entry of Object.values(entries)) {
  if (!existsSync(new URL(`../${entry}`, import.meta.url))) {
    console.error(`${entry} is missing: run "pnpm build" first (pnpm start does).`);
    process.exit(1);
  }
}

const start = startEnvironment(process.env);
console.log(start.lines.join('\n'));

// Each child gets a process group of its own: a terminal's Ctrl-C signals the whole
// foreground group, and a child that got SIGINT from the terminal and again from us would
// take the second one as "exit now" and skip its graceful shutdown.
const children = Object.entries(entries).map(([name, entry]) => {
  const child = spawn(process.execPath, [entry], {
    cwd: root,
    env: start.env,
    stdio: 'inherit',
    detached: true,
  });
  return { name, child };
});
// Should this process die without stopping them (an uncaught error), take them along.
process.on('exit', () => {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
});

let stopping = false;
function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  for (const { child } of children) if (child.exitCode === null) child.kill(signal);
}

process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
// A closed terminal hangs up on its foreground group only: the children, in groups of their
// own, would run on without us.
process.on('SIGHUP', () => stopAll('SIGTERM'));

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
