export {
  type CodeStore,
  type CodeStoreOptions,
  createCodeStore,
  failedVerifiesKey,
  type IssueResult,
  type LiveResult,
  type SendLimit,
  type VerifyResult,
} from './code-store/code-store.js';
export { LuaScript } from './code-store/lua-script.js';
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
export { createLogger, type Logger, type LoggerConfig, REDACT_PATHS } from './logging/logger.js';
export { maskUrlPassword, redactSecretsInText, redactWebhookPaths } from './logging/redact.js';
export { generateCode } from './otp/code.js';
export { CODE_PLACEHOLDER, checkTemplate, renderTemplate, singleSegmentLimit } from './otp/template.js';
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
export { describeFailure, FAILURE_CODES, type FailureCode } from './status/failure-codes.js';
export {
  createStatusStore,
  type DeliveryReportInput,
  type DeliveryReportResult,
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
