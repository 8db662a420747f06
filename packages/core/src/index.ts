export {
  type CancelResult,
  type CodeStore,
  type CodeStoreOptions,
  createCodeStore,
  failedVerifiesKey,
  type IssueResult,
  type IssueReuse,
  type LiveResult,
  type SendLimit,
  type VerifyResult,
} from './code-store/code-store.js';
export { LuaScript } from './code-store/lua-script.js';
export { openStoredCode, type SealedCodeContext, sealStoredCode } from './code-store/sealed-code.js';
export {
  collectProblems,
  DEV_OTP_SECRET,
  type Env,
  isSecretName,
  parseEnv,
  type ResolvedSecret,
  resolveDebugMode,
  resolveOtpSecret,
  resolvePreviousSecret,
  resolveRedisTarget,
  SharedEnv,
  splitList,
  weakSecretProblem,
} from './config/env.js';
export { DecryptError, decrypt, encrypt } from './crypto/cipher.js';
export {
  codeDigest,
  codeDigestCandidates,
  deriveKeyRing,
  deriveKeys,
  deriveSecretKey,
  type SecretKeys,
  safeEqual,
  storedCodeDigest,
} from './crypto/keys.js';
export { AppError, type AppErrorOptions, ConfigError, ErrorCode, isAppError } from './errors.js';
export { EventsEnv, webhookSecretProblem } from './events/events-env.js';
export {
  createStatusEvents,
  EVENT_JOB_NAME,
  EVENT_STATUSES,
  EventJobData,
  type EventJobOptionsInput,
  type EventStatus,
  EXPIRY_JOB_NAME,
  eventsQueueName,
  type StatusEventsOptions,
} from './events/status-events.js';
export { createLogger, type Logger, type LoggerConfig, REDACT_PATHS } from './logging/logger.js';
export { maskUrlPassword, redactSecretsInText, redactWebhookPaths } from './logging/redact.js';
export { generateCode } from './otp/code.js';
export {
  APP_HASH_PATTERN,
  CODE_PLACEHOLDER,
  checkTemplate,
  measureSms,
  pickTemplate,
  renderSms,
  renderTemplate,
  SMS_LOCALES,
  type SmsLocale,
  type SmsSize,
  type SmsTemplates,
  singleSegmentLimit,
} from './otp/template.js';
export { maskPhone } from './phone/mask.js';
export {
  isKnownCountry,
  type NormalizedPhone,
  type NormalizeOptions,
  type NormalizeResult,
  normalizePhone,
  type PhoneRejection,
} from './phone/normalize.js';
export { phoneRange, type RangeDigits } from './phone/range.js';
export {
  QUEUE_DEPTH_STATES,
  type QueueDepthState,
  queueDepthReader,
  readQueueDepth,
  registerQueueDepthMetrics,
} from './queue/queue-depth.js';
export {
  DEFAULT_SEND_QUEUE,
  jobPhoneMasked,
  openCode,
  openSendJob,
  RETRY_UNTIL_EXPIRY_ATTEMPTS,
  SEND_BACKOFF_TYPE,
  SEND_JOB_NAME,
  SendJobData,
  SendJobDataV1,
  SendJobDataV2,
  type SendJobOptionsInput,
  type SendJobResult,
  sealCode,
  sealJob,
  sendJobOptions,
} from './queue/send-job.js';
export { sendQueueNames, shardIndex } from './queue/shards.js';
export {
  createHeartbeat,
  DEBUG_TRANSPORT,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TTL_SECONDS,
  type Heartbeat,
  type HeartbeatKeys,
  heartbeatKeys,
  liveWorkerTransports,
} from './queue/worker-heartbeat.js';
export {
  type ClusterSeed,
  createRedisClient,
  hashTagOf,
  isCluster,
  parseClusterNodes,
  type RedisClient,
  type RedisClientOptions,
  type RedisTarget,
} from './redis/client.js';
export { coalesceWrites } from './redis/coalesce-writes.js';
export { describeFailure, FAILURE_CODES, type FailureCode } from './status/failure-codes.js';
export {
  createStatusStore,
  type DeliveryReportInput,
  type DeliveryReportResult,
  type StatusChange,
  type StatusStore,
  type StatusStoreOptions,
  type VerificationRecord,
  type WriteOutcome,
  type WriteResult,
} from './status/status-store.js';
export {
  type DeliveryReportMeaning,
  interpretDeliveryReport,
  STATUS_RANK,
  type StoredStatus,
  VERIFICATION_STATUSES,
  type VerificationStatus,
} from './status/verification-status.js';
