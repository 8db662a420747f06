export { createWebhookHandlers, WEBHOOK_FACTORIES, WebhookEnv, type WebhookFactory } from './webhooks.js';
