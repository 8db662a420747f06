/** The placeholder SMS_TEMPLATE must contain. */
export const CODE_PLACEHOLDER = '{code}';

/** Whether the text needs UCS-2: any character outside GSM-7's basic set does. */
function isGsm7(text: string): boolean {
  return /^[@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&'()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà^{}\\[~\]|€]*$/.test(
    text,
  );
}

/**
 * Characters that fit one SMS segment: 160 in GSM-7, 70 once any character (Cyrillic, for
 * one) forces UCS-2. An OTP split over two segments costs double and can arrive in pieces.
 */
export function singleSegmentLimit(text: string): number {
  return isGsm7(text) ? 160 : 70;
}

export function renderTemplate(template: string, code: string): string {
  return template.split(CODE_PLACEHOLDER).join(code);
}

/**
 * Checks SMS_TEMPLATE at start-up: it must show the code, and the rendered text must fit
 * one segment. Returns a problem sentence, or undefined when it is fine.
 */
export function checkTemplate(template: string, codeLength: number): string | undefined {
  if (!template.includes(CODE_PLACEHOLDER)) return `SMS_TEMPLATE must contain ${CODE_PLACEHOLDER}`;
  const sample = renderTemplate(template, '0'.repeat(codeLength));
  const limit = singleSegmentLimit(sample);
  if (sample.length > limit) {
    return `SMS_TEMPLATE renders to ${sample.length} characters; one SMS segment holds ${limit} for this text`;
  }
  return undefined;
}
