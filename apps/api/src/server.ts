import { ConfigError, createLogger } from '@otp/core';
import closeWithGrace from 'close-with-grace';
import { createApp } from './app.js';
import { type ApiConfig, loadApiConfig } from './config.js';
import { startupSummary } from './startup-summary.js';

// The one place that reads process.env, listens and handles signals.
let config: ApiConfig;
try {
  config = loadApiConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`otp-api: ${err.message}`);
    process.exit(1);
  }
  throw err;
}

// A developer's terminal gets readable lines; anything else (files, pipes, collectors) JSON.
const pretty = config.nodeEnv === 'development' && process.stdout.isTTY === true;
const logger = createLogger({ service: 'otp-api', level: config.logLevel, file: config.logFile, pretty });
if (config.insecureSecret) logger.warn('OTP_SECRET is not set: using the built-in development secret');
if (config.debugMode) logger.warn('debug mode (OTP_DEBUG=true): answers carry debug_code and no SMS is sent');

// Process metrics (CPU, memory, event loop) once, here: one process, one set of observers.
const app = await createApp({ config, logger, processMetrics: true });

// Stop accepting connections, let requests in flight finish, close Redis; give up after
// the deadline so a stuck request cannot keep a pod from terminating.
closeWithGrace({ delay: config.shutdownTimeoutMs, logger }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error');
  else logger.info({ signal }, 'shutting down');
  await app.close();
});

try {
  await app.listen({ host: config.host, port: config.port });
} catch (err) {
  // The one start-up failure a developer meets daily gets one line, not a fatal JSON stack.
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`otp-api: port ${config.port} is in use; set PORT`);
    process.exit(1);
  }
  logger.fatal({ err }, 'could not listen');
  process.exit(1);
}

const address = app.server.address();
const summary = startupSummary(config, typeof address === 'object' && address ? address.port : config.port);
if (pretty) process.stdout.write(`\n${summary.lines.join('\n')}\n\n`);
else logger.info(summary.fields, summary.message);
