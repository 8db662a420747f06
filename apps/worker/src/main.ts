import { ConfigError, createLogger } from '@otp/core';
import { loadWorkerConfig, type WorkerConfig } from './config.js';
import { createWorkerService } from './worker-service.js';

// The one place that reads process.env and handles signals.
let config: WorkerConfig;
try {
  config = loadWorkerConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`otp-worker: ${err.message}`);
    process.exit(1);
  }
  throw err;
}

const logger = createLogger({ service: 'otp-worker', level: config.logLevel, file: config.logFile });
if (config.insecureSecret) logger.warn('OTP_SECRET is not set: using the built-in development secret');
if (config.debugMode)
  logger.warn('debug mode (OTP_DEBUG=true): codes are written to the log instead of sent');

const service = createWorkerService(config, logger);
logger.info(
  { transport: service.transport.name, debugFallback: config.debugFallback, concurrency: config.concurrency },
  'worker starting',
);

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal, deadlineMs: config.shutdownTimeoutMs }, 'shutting down: finishing jobs in flight');
  try {
    const outcome = await service.close();
    logger.info({ outcome }, 'worker stopped');
    process.exit(0);
  } catch (err) {
    logger.error({ err }, 'error during shutdown');
    process.exit(1);
  }
}
process.on('SIGTERM', (signal) => void shutdown(signal));
process.on('SIGINT', (signal) => void shutdown(signal));
