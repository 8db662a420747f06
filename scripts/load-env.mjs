// `node --import ./scripts/load-env.mjs …` in the package scripts: reads ./.env when there is
// one, a variable already in the environment winning (as with node --env-file). Not Node's
// --env-file-if-exists, which prints ".env not found. Continuing without it." on every start
// of a fresh clone.
import { existsSync } from 'node:fs';

if (existsSync('.env')) process.loadEnvFile('.env');
