#!/usr/bin/env node
// `pnpm messaggio:check [--env-file .env] [--phone +7… --send]`: is Messaggio set up right?
// In a container: `docker compose run --rm worker node dist/bin/messaggio-check.js`.
import { runMessaggioCheck } from '../diagnostics/messaggio-check.js';

process.exitCode = await runMessaggioCheck({
  env: process.env,
  argv: process.argv.slice(2),
  out: process.stdout,
});
