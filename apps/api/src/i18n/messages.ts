/**
 * The human `message` of the API's answers, per language. Clients branch on the stable
 * `code`; the message is for people, so it follows Accept-Language (ru, kk, en). With no
 * such header, `*`, or one naming none of these, every message is today's wording exactly
 * (the success messages in Russian, the errors in English): old clients see no change.
 */
export const LANGUAGES = ['ru', 'kk', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

type Params = Readonly<Record<string, unknown>>;
type Text = (p: Params) => string;

interface Entry {
  /** Today's wording, answered when no language was asked for. @defaultValue en */
  default?: Text;
  /** English; absent = the thrown message as it is (it is English already). */
  en?: Text;
  ru: Text;
  kk: Text;
}

const s = (p: Params) => String(p.retry_after ?? '');

/**
 * Keyed by error code (a `.variant` where one code has several sentences); parameters
 * come from the error's details (`retry_after`, `attempts_left`). Codes not listed
 * (validation, authentication, idempotency, routing: messages for developers) stay English.
 */
export const MESSAGES = {
  'send.ok': {
    default: () => 'SMS код отправлен успешно',
    en: () => 'SMS code sent successfully',
    ru: () => 'SMS код отправлен успешно',
    kk: () => 'SMS код сәтті жіберілді',
  },
  'verify.ok': {
    default: () => 'Код подтвержден',
    en: () => 'Code verified',
    ru: () => 'Код подтвержден',
    kk: () => 'Код расталды',
  },
  RESEND_TOO_SOON: {
    en: (p) => `A code was sent to this number recently; ask again in ${s(p)} s.`,
    ru: (p) => `Код на этот номер уже отправлен; запросите новый через ${s(p)} с.`,
    kk: (p) => `Бұл нөмірге код жақында жіберілді; ${s(p)} секундтан кейін қайта сұраңыз.`,
  },
  PHONE_VERIFY_LOCKED: {
    en: (p) => `Too many failed verifies for this number; no new code can be sent or checked for ${s(p)} s.`,
    ru: (p) =>
      `Слишком много неудачных проверок для этого номера; новый код нельзя отправить или проверить ещё ${s(p)} с.`,
    kk: (p) =>
      `Бұл нөмір үшін сәтсіз тексерулер тым көп; ${s(p)} секунд бойы жаңа код жіберуге не тексеруге болмайды.`,
  },
  'PHONE_SEND_LIMIT.hour': {
    en: (p) => `Too many codes sent to this number this hour; try again in ${s(p)} s.`,
    ru: (p) => `Слишком много кодов на этот номер за час; повторите через ${s(p)} с.`,
    kk: (p) => `Бұл нөмірге бір сағатта тым көп код жіберілді; ${s(p)} секундтан кейін қайталаңыз.`,
  },
  'PHONE_SEND_LIMIT.day': {
    en: (p) => `Too many codes sent to this number today; try again in ${s(p)} s.`,
    ru: (p) => `Слишком много кодов на этот номер за сутки; повторите через ${s(p)} с.`,
    kk: (p) => `Бұл нөмірге бүгін тым көп код жіберілді; ${s(p)} секундтан кейін қайталаңыз.`,
  },
  IP_SEND_LIMIT: {
    en: (p) => `Too many codes requested from this address; try again in ${s(p)} s.`,
    ru: (p) => `Слишком много запросов кодов с этого адреса; повторите через ${s(p)} с.`,
    kk: (p) => `Бұл мекенжайдан тым көп код сұралды; ${s(p)} секундтан кейін қайталаңыз.`,
  },
  COUNTRY_SEND_LIMIT: {
    en: (p) => `The daily SMS limit for this country is reached; try again in ${s(p)} s.`,
    ru: (p) => `Дневной лимит SMS для этой страны исчерпан; повторите через ${s(p)} с.`,
    kk: (p) => `Бұл ел үшін тәуліктік SMS шегіне жетті; ${s(p)} секундтан кейін қайталаңыз.`,
  },
  SMS_BUDGET_EXHAUSTED: {
    en: (p) => `The daily SMS budget is spent; sending resumes in ${s(p)} s.`,
    ru: (p) => `Дневной бюджет SMS исчерпан; отправка возобновится через ${s(p)} с.`,
    kk: (p) => `Тәуліктік SMS бюджеті таусылды; жіберу ${s(p)} секундтан кейін қайта басталады.`,
  },
  FRAUD_SUSPECTED: {
    en: (p) => `Codes to this number range are paused after suspicious traffic; try again in ${s(p)} s.`,
    ru: (p) =>
      `Отправка кодов на этот диапазон номеров приостановлена из-за подозрительного трафика; повторите через ${s(p)} с.`,
    kk: (p) =>
      `Күдікті трафикке байланысты бұл нөмірлер ауқымына код жіберу тоқтатылды; ${s(p)} секундтан кейін қайталаңыз.`,
  },
  'VERIFY_LIMIT_EXCEEDED.caller': {
    en: (p) => `Too many failed attempts from this address; try again in ${s(p)} s.`,
    ru: (p) => `Слишком много неудачных попыток с этого адреса; повторите через ${s(p)} с.`,
    kk: (p) => `Бұл мекенжайдан сәтсіз әрекеттер тым көп; ${s(p)} секундтан кейін қайталаңыз.`,
  },
  'VERIFY_LIMIT_EXCEEDED.phone': {
    en: (p) => `Too many failed attempts for this number; try again in ${s(p)} s.`,
    ru: (p) => `Слишком много неудачных попыток для этого номера; повторите через ${s(p)} с.`,
    kk: (p) => `Бұл нөмір үшін сәтсіз әрекеттер тым көп; ${s(p)} секундтан кейін қайталаңыз.`,
  },
  OTP_INVALID: {
    en: (p) =>
      Number(p.attempts_left) > 0
        ? `Wrong code; ${p.attempts_left} attempt(s) left.`
        : 'Wrong code; no attempts left, ask for a new code.',
    ru: (p) =>
      Number(p.attempts_left) > 0
        ? `Неверный код; осталось попыток: ${p.attempts_left}.`
        : 'Неверный код; попыток не осталось, запросите новый код.',
    kk: (p) =>
      Number(p.attempts_left) > 0
        ? `Код қате; қалған әрекет саны: ${p.attempts_left}.`
        : 'Код қате; әрекет қалмады, жаңа код сұраңыз.',
  },
  OTP_ATTEMPTS_EXCEEDED: {
    en: () => 'Too many wrong codes; this code no longer works. Ask for a new code.',
    ru: () => 'Слишком много неверных кодов; этот код больше не действует. Запросите новый код.',
    kk: () => 'Қате код тым көп енгізілді; бұл код енді жарамсыз. Жаңа код сұраңыз.',
  },
  OTP_EXPIRED: {
    en: () => 'No valid code for this number: it expired, was used, or was never sent.',
    ru: () => 'Для этого номера нет действующего кода: срок истёк, код уже использован или не отправлялся.',
    kk: () => 'Бұл нөмір үшін жарамды код жоқ: мерзімі өтті, қолданылды немесе жіберілмеген.',
  },
  PHONE_BLOCKED: {
    en: () => 'Codes cannot be sent to this number.',
    ru: () => 'На этот номер коды не отправляются.',
    kk: () => 'Бұл нөмірге код жіберілмейді.',
  },
  // The English messages name what exactly is wrong with the number (libphonenumber's reasons).
  PHONE_INVALID: {
    ru: () => 'Неверный номер телефона.',
    kk: () => 'Телефон нөмірі қате.',
  },
  COUNTRY_NOT_ALLOWED: {
    ru: () => 'Коды на номера этой страны не отправляются.',
    kk: () => 'Бұл елдің нөмірлеріне код жіберілмейді.',
  },
  SERVICE_UNAVAILABLE: {
    en: () => 'The service is temporarily unavailable; try again shortly.',
    ru: () => 'Сервис временно недоступен; повторите попытку чуть позже.',
    kk: () => 'Қызмет уақытша қолжетімсіз; сәлден соң қайталаңыз.',
  },
  SERVICE_OVERLOADED: {
    ru: () => 'Сервис перегружен; повторите попытку чуть позже.',
    kk: () => 'Қызмет шамадан тыс жүктелген; сәлден соң қайталаңыз.',
  },
  RATE_LIMITED: {
    ru: (p) => `Слишком много запросов; повторите через ${s(p)} с.`,
    kk: (p) => `Сұраулар тым көп; ${s(p)} секундтан кейін қайталаңыз.`,
  },
} satisfies Record<string, Entry>;

export type MessageKey = keyof typeof MESSAGES;

/** Today's English (or, for the success messages, today's wording) of a catalog message. */
export function englishMessage(key: MessageKey, params: Params = {}): string {
  const entry: Entry = MESSAGES[key];
  return (entry.en ?? entry.default ?? entry.ru)(params);
}

/**
 * A message in `language`, or undefined when the catalog has none for it (the caller then
 * keeps the message it has). No language: the entry's default (today's wording).
 */
export function localizedMessage(
  key: string,
  language: Language | undefined,
  params: Params = {},
): string | undefined {
  const entry = (MESSAGES as Record<string, Entry>)[key];
  if (!entry) return undefined;
  const text = language === undefined ? (entry.default ?? entry.en) : entry[language];
  return text?.(params);
}

/**
 * The language Accept-Language prefers among ru, kk and en (a region such as ru-RU counts
 * as ru; q-values decide, the first listed wins a tie), or undefined when it names none of
 * them: absent, `*`, or only other languages. `*` never picks one, so clients whose HTTP
 * library sends `Accept-Language: *` keep today's messages.
 */
export function pickLanguage(header: string | string[] | undefined): Language | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return undefined;
  let best: Language | undefined;
  let bestQ = 0;
  for (const part of value.split(',')) {
    const [tag = '', ...params] = part.split(';');
    const primary = tag.trim().toLowerCase().split('-')[0] ?? '';
    if (!(LANGUAGES as readonly string[]).includes(primary)) continue;
    let q = 1;
    for (const param of params) {
      const match = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(param);
      if (match) q = Number(match[1]);
    }
    if (q > bestQ) {
      best = primary as Language;
      bestQ = q;
    }
  }
  return best;
}
