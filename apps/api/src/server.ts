import { ConfigError, createLogger } from '@otp/core';
import closeWithGrace from 'close-with-grace';
import { createApp } from './app.js';
import { type ApiConfig, loadApiConfig } from './config.js';

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

const logger = createLogger({ service: 'otp-api', level: config.logLevel, file: config.logFile });
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
  logger.fatal({ err }, 'could not listen');
  process.exit(1);
}
