export type { DeliveryReport, DeliveryStatus } from './delivery-status.js';
export { errorScope, SmsError, type SmsErrorInit, type SmsErrorScope } from './errors.js';
export type { SmsMessage, SmsProvider, SmsReceipt, SmsSendOptions } from './provider.js';
