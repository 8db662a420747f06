import { describe, expect, it } from 'vitest';
import { loadApiConfig } from './config.js';
import { startupSummary } from './startup-summary.js';

describe('startupSummary', () => {
  it('debug mode: localhost URLs for a wildcard bind, the mode and the loopback exemption', () => {
    const summary = startupSummary(loadApiConfig({ OTP_DEBUG: 'true' }), 3000);
    expect(summary.lines.join('\n')).toMatch(
      /API +http:\/\/localhost:3000\n +API docs +http:\/\/localhost:3000\/docs/,
    );
    expect(summary.lines.join('\n')).toMatch(/debug mode/);
    expect(summary.lines.join('\n')).toMatch(/per-IP limits do not apply to loopback callers/);
    expect(summary.lines.join('\n')).not.toMatch(/Bull Board/);
  });

  it('names Bull Board when admin credentials turn it on, and no exemption when live', () => {
    const config = loadApiConfig({
      HOST: '127.0.0.1',
      MESSAGGIO_API_KEY: 'login',
      OTP_SECRET: 'x1'.repeat(32),
      ADMIN_USER: 'admin',
      ADMIN_PASSWORD: 'a-long-admin-password',
    });
    const summary = startupSummary(config, 8080);
    expect(summary.fields).toMatchObject({
      url: 'http://127.0.0.1:8080',
      bullBoard: 'http://127.0.0.1:8080/admin/queues',
      mode: 'live',
      loopbackExemptFromIpLimit: false,
    });
    expect(summary.lines.join('\n')).not.toMatch(/loopback/);
  });
});
