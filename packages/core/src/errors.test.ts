import { describe, expect, it } from 'vitest';
import { AppError, ErrorCode } from './errors.js';

describe('AppError', () => {
  it('captures no stack for a 4xx answer, a full one for a 5xx, and leaves the global limit as it was', () => {
    const before = Error.stackTraceLimit;
    const answer = new AppError(ErrorCode.OTP_INVALID, 400, 'wrong code');
    const fault = new AppError(ErrorCode.SERVICE_UNAVAILABLE, 503, 'redis is down');
    expect(answer.stack?.split('\n')).toHaveLength(1);
    expect(fault.stack?.split('\n').length).toBeGreaterThan(1);
    expect(fault.stack).toContain('errors.test.ts');
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error('plain').stack?.split('\n').length).toBeGreaterThan(1);
  });
});
