import { SegmentedMessage } from 'sms-segments-calculator';

/** The placeholder SMS_TEMPLATE must contain. */
export const CODE_PLACEHOLDER = '{code}';

/** The locales a send may ask for (`locale`), each with its own optional SMS template. */
export const SMS_LOCALES = ['ru', 'kk', 'en'] as const;
export type SmsLocale = (typeof SMS_LOCALES)[number];

/** An Android SMS Retriever app hash: 11 characters of base64 (Google's format). */
export const APP_HASH_PATTERN = '^[A-Za-z0-9+/]{11}$';
const APP_HASH_LENGTH = 11;

/** The SMS texts a worker renders: the default template and any per locale. */
export interface SmsTemplates {
  /** SMS_TEMPLATE. */
  default: string;
  /** SMS_TEMPLATE_RU/_KK/_EN or SMS_TEMPLATES. @defaultValue none */
  byLocale?: Partial<Record<SmsLocale, string>>;
}

/** Where a phone's country points when the request names no locale (KZ -> kk, RU -> ru). */
const COUNTRY_LOCALE: Readonly<Record<string, SmsLocale>> = { KZ: 'kk', RU: 'ru' };

/**
 * The template for one SMS: the request's `locale` if a template exists for it, else the
 * one for the phone's country (KZ -> kk, RU -> ru) if set, else the default.
 */
export function pickTemplate(templates: SmsTemplates, input: { locale?: string; country?: string }): string {
  const byLocale = templates.byLocale ?? {};
  const fromRequest = input.locale === undefined ? undefined : byLocale[input.locale as SmsLocale];
  const countryLocale = input.country === undefined ? undefined : COUNTRY_LOCALE[input.country];
  const fromCountry = countryLocale === undefined ? undefined : byLocale[countryLocale];
  return fromRequest ?? fromCountry ?? templates.default;
}

export function renderTemplate(template: string, code: string): string {
  return template.split(CODE_PLACEHOLDER).join(code);
}

/**
 * The SMS text: the template with the code, then the autofill line. An app hash (Android
 * SMS Retriever: the message must end with it) wins over the origin line, since a native
 * app asked for it; otherwise, with an origin, the last line is `@<domain> #<code>` exactly
 * as origin-bound one-time codes (WebOTP, iOS and Android autofill) require.
 * https://wicg.github.io/sms-one-time-codes/
 */
export function renderSms(input: {
  template: string;
  code: string;
  origin?: string;
  appHash?: string;
}): string {
  const text = renderTemplate(input.template, input.code);
  if (input.appHash !== undefined) return `${text}\n${input.appHash}`;
  if (input.origin !== undefined) return `${text}\n@${input.origin} #${input.code}`;
  return text;
}

export interface SmsSize {
  encoding: 'GSM-7' | 'UCS-2';
  /** Characters as the network counts them: GSM-7 extension characters (€ [ ] { } …) count 2. */
  characters: number;
  /** What one segment holds in that encoding: 160 (GSM-7) or 70 (UCS-2). */
  limit: number;
  /** Paid segments the text is split into. */
  segments: number;
}

/** How the network sizes a text (Twilio's segment calculator, sms-segments-calculator). */
export function measureSms(text: string): SmsSize {
  const message = new SegmentedMessage(text);
  const encoding = message.encodingName;
  return {
    encoding,
    characters: message.numberOfCharacters,
    limit: encoding === 'GSM-7' ? 160 : 70,
    segments: message.segmentsCount,
  };
}

/**
 * Characters that fit one SMS segment: 160 in GSM-7, 70 once any character (Cyrillic, for
 * one) forces UCS-2. An OTP split over two segments costs double and can arrive in pieces.
 */
export function singleSegmentLimit(text: string): number {
  return measureSms(text).limit;
}

/**
 * Checks a template at start-up: it must show the code, and its longest SMS must fit one
 * segment: the code at `codeLength` digits, plus the longer of the origin line (with
 * `origin`) and an app hash line (any request may carry one). Returns a problem sentence
 * naming the variable and the length, or undefined when it is fine.
 */
export function checkTemplate(
  template: string,
  codeLength: number,
  options: { name?: string; origin?: string } = {},
): string | undefined {
  const name = options.name ?? 'SMS_TEMPLATE';
  if (!template.includes(CODE_PLACEHOLDER)) return `${name} must contain ${CODE_PLACEHOLDER}`;
  const code = '0'.repeat(codeLength);
  const variants = [
    { text: renderSms({ template, code }), what: '' },
    {
      text: renderSms({ template, code, appHash: 'A'.repeat(APP_HASH_LENGTH) }),
      what: ' with an app_hash line',
    },
    ...(options.origin === undefined
      ? []
      : [{ text: renderSms({ template, code, origin: options.origin }), what: ` with the OTP_ORIGIN line` }]),
  ];
  for (const { text, what } of variants) {
    const size = measureSms(text);
    if (size.segments > 1) {
      return `${name} renders to ${size.characters} characters${what} (a ${codeLength}-digit code); one SMS segment holds ${size.limit} in ${size.encoding}, so each SMS would cost ${size.segments} segments`;
    }
  }
  return undefined;
}
