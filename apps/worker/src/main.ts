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

// A developer's terminal gets readable lines; anything else (files, pipes, collectors) JSON.
const pretty = config.nodeEnv === 'development' && process.stdout.isTTY === true;
const logger = createLogger({ service: 'otp-worker', level: config.logLevel, file: config.logFile, pretty });
if (config.insecureSecret) logger.warn('OTP_SECRET is not set: using the built-in development secret');
if (config.debugMode)
  logger.warn('debug mode (OTP_DEBUG=true): codes are written to the log instead of sent');

const service = createWorkerService(config, logger);
logger.info(
  {
    providers: service.chain.map((link) => link.provider.name),
    failoverAfter: config.failoverAfter,
    breakerCooldownMs: config.breaker.cooldownMs,
    // Where SMS go: a local fake Messaggio shows up here as its 127.0.0.1 URL.
    ...(config.messaggio ? { messaggioBaseUrl: config.messaggio.baseUrl } : {}),
    debugFallback: config.debugFallback,
    concurrency: config.concurrency,
    // Only the receiver's origin: a path or query may carry a token of the receiver's.
    ...(config.events ? { eventsTo: new URL(config.events.url).origin } : {}),
  },
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
