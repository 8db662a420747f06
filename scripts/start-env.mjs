// What `pnpm start` (scripts/start.mjs) hands the API and the worker, and the lines it prints
// about that before they start. Kept apart from start.mjs, which only runs processes, so a test
// can check the decisions without building or starting anything.

const set = (value) => value !== undefined && value.trim() !== '';

/** A base URL on this machine: a fake Messaggio (`pnpm fake-messaggio`), not the real one. */
function isLocal(url) {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

/**
 * The quick start must work with no provider account: with no provider credentials
 * (MESSAGGIO_API_KEY or TWILIO_AUTH_TOKEN, in the environment or .env) and OTP_DEBUG not set
 * either way, the children run in debug mode (OTP_DEBUG=true). Production is never switched
 * into it.
 *
 * @param {Record<string, string | undefined>} env process.env after .env was read
 * @returns {{ env: Record<string, string | undefined>, debug: boolean, lines: string[] }}
 */
export function startEnvironment(env) {
  const lines = ['Starting the OTP API and one worker (Ctrl-C stops both).'];
  const provider = set(env.MESSAGGIO_API_KEY) || set(env.TWILIO_AUTH_TOKEN);
  if (!provider && !set(env.OTP_DEBUG) && env.NODE_ENV !== 'production') {
    lines.push(
      'No SMS provider configured: debug mode (OTP_DEBUG=true). Codes come back as debug_code and in the',
      "worker's log, no SMS is sent, and per-IP limits do not apply to callers on this machine.",
    );
    return { env: { ...env, OTP_DEBUG: 'true' }, debug: true, lines };
  }
  if (set(env.MESSAGGIO_API_KEY) && set(env.MESSAGGIO_BASE_URL) && isLocal(env.MESSAGGIO_BASE_URL)) {
    lines.push(`SMS go to a local fake Messaggio at ${env.MESSAGGIO_BASE_URL} (pnpm fake-messaggio).`);
  }
  return { env, debug: false, lines };
}
