import { randomInt } from 'node:crypto';

/** A uniformly random numeric code from the CSPRNG, zero-padded to `length` digits. */
export function generateCode(length: number): string {
  if (!Number.isInteger(length) || length < 4 || length > 10) {
    throw new RangeError(`OTP length must be an integer from 4 to 10, got ${length}`);
  }
  // randomInt's range must stay below 2^48; 10 digits is well within it.
  return randomInt(0, 10 ** length)
    .toString()
    .padStart(length, '0');
}
