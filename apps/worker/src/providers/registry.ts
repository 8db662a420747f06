import type { Logger } from '@otp/core';
import { createMessaggioClient, createMessaggioProvider } from '@otp/messaggio';
import type { SmsProvider } from '@otp/sms';
import { createTwilioProvider } from '@otp/twilio';
import type { WorkerConfig } from '../config.js';
import { createDebugProvider } from './debug-provider.js';

/** A provider as the chain holds it. */
export interface ChainProvider {
  provider: SmsProvider;
  /**
   * Values this provider's errors may echo back (its credentials, its callback URL): redacted,
   * with the code and the SMS text, from everything stored or logged about a failure.
   */
  secrets: string[];
  /** Closes the provider's connections; the worker calls it once its jobs have stopped. */
  close?: () => Promise<void>;
}

export type ProviderFactory = (config: WorkerConfig, logger: Logger) => ChainProvider;

/**
 * Every provider `SMS_PROVIDERS` may name, by name. Adding one is a line here, its variables
 * in config.ts (WorkerEnv, PROVIDER_SETTINGS) and its webhook in @otp/providers.
 */
export const PROVIDER_FACTORIES = {
  messaggio: (config) => {
    const settings = config.messaggio;
    // config.ts refuses a chain that names a provider without its settings.
    if (!settings) throw new Error('messaggio is in SMS_PROVIDERS but not configured');
    const client = createMessaggioClient({
      baseUrl: settings.baseUrl,
      login: settings.login,
      timeoutMs: settings.timeoutMs,
      // A keep-alive connection for every job the worker runs at once.
      connections: config.concurrency,
    });
    return {
      provider: createMessaggioProvider({
        client,
        sender: settings.sender,
        dlrCallbackUrl: settings.dlrCallbackUrl,
      }),
      secrets: [settings.login, settings.dlrCallbackUrl, settings.webhookSecret].filter(
        (secret): secret is string => secret !== undefined,
      ),
      close: () => client.close(),
    };
  },
  twilio: (config) => {
    const settings = config.twilio;
    if (!settings) throw new Error('twilio is in SMS_PROVIDERS but not configured');
    const provider = createTwilioProvider({
      ...settings,
      // The callback carries the verification id, signed: a report that beats the worker's
      // own record of the message id still finds its verification.
      referenceInCallback: true,
      connections: config.concurrency,
    });
    return {
      provider,
      secrets: [settings.authToken, settings.accountSid, settings.statusCallbackUrl].filter(
        (secret): secret is string => secret !== undefined,
      ),
      close: () => provider.close(),
    };
  },
  debug: (_config, logger) => ({ provider: createDebugProvider(logger, 'debug-mode'), secrets: [] }),
} satisfies Record<string, ProviderFactory>;

export type ProviderName = keyof typeof PROVIDER_FACTORIES;

/** Names SMS_PROVIDERS accepts; `debug` only comes with OTP_DEBUG. */
export const CHAIN_PROVIDER_NAMES = Object.keys(PROVIDER_FACTORIES).filter((name) => name !== 'debug');

/** Builds the chain config.providers names, in order. */
export function createChainProviders(config: WorkerConfig, logger: Logger): ChainProvider[] {
  return config.providers.map((name) => {
    const factory = (PROVIDER_FACTORIES as Record<string, ProviderFactory>)[name];
    if (!factory) throw new Error(`unknown SMS provider "${name}"`);
    return factory(config, logger);
  });
}
