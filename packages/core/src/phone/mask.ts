/**
 * Masks a phone for logs: `+77088043414` → `+7708***3414`. Enough to match a complaint
 * to a log line, not enough to harvest numbers from a leaked log.
 */
export function maskPhone(phone: string): string {
  if (phone.length <= 8) return '***';
  return `${phone.slice(0, 5)}***${phone.slice(-4)}`;
}
