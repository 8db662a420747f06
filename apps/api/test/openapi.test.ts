import { ErrorCode } from '@otp/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/schemas/error-codes.js';
import { buildTestApi, type TestApi } from './helper.js';

interface Operation {
  summary?: string;
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: { $ref?: string } }> }>;
  security?: Record<string, string[]>[];
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> };
}

let api: TestApi;
let doc: OpenApiDocument;
beforeAll(async () => {
  api = await buildTestApi({ ADMIN_USER: 'ops', ADMIN_PASSWORD: 'admin-password-0123456789' });
  const res = await api.app.inject({ url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(async () => {
  await api.close();
});

describe('the OpenAPI document at /docs/json', () => {
  it.each([
    ['/send-otp/', ['phone_number'], ['200', '400', '401', '403', '413', '415', '429', '503']],
    ['/verify-otp/', ['phone_number', 'code'], ['200', '400', '401', '403', '413', '415', '429', '503']],
  ])('documents POST %s: body, every response, and the API key', (path, fields, statuses) => {
    const operation = doc.paths[path]?.post;
    expect(operation?.summary).toBeTruthy();
    const body = operation?.requestBody?.content['application/json']?.schema;
    expect(Object.keys(body?.properties ?? {})).toEqual(fields);
    expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(statuses));
    for (const status of statuses.filter((s) => s !== '200')) {
      const response = operation?.responses[status];
      expect(response?.content?.['application/json']?.schema.$ref).toBe('#/components/schemas/ErrorResponse');
      // Each error status names the codes that come with it.
      expect(response?.description).toMatch(/`[A-Z_]+`: /);
    }
    expect(operation?.responses['429']?.description).toContain('`RESEND_TOO_SOON`');
    expect(operation?.responses['400']?.description).toContain('`VALIDATION_ERROR`');
    expect(operation?.security).toEqual([{ apiKey: [] }, { apiKeyHeader: [] }, {}]);
  });

  it('lists every error code in ErrorResponse.code', () => {
    const code = doc.components.schemas.ErrorResponse?.properties.code;
    expect(code?.enum?.slice().sort()).toEqual(Object.values(ErrorCode).sort());
    // And each code is documented with its status.
    expect(Object.keys(ERROR_CODES).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('documents health and metrics, and hides Bull Board', () => {
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/health/live', '/health/ready', '/metrics']),
    );
    const metrics = doc.paths['/metrics']?.get?.responses;
    expect(Object.keys(metrics?.['200']?.content ?? {})).toEqual(['text/plain']);
    expect(Object.keys(metrics?.['401']?.content ?? {})).toEqual(['application/json']);
    // Admin credentials when configured, open otherwise.
    expect(doc.paths['/metrics']?.get?.security).toEqual([{ adminBasic: [] }, { adminKey: [] }, {}]);
    expect(Object.keys(doc.paths).some((path) => path.startsWith('/admin'))).toBe(false);
    expect(Object.keys(doc.paths).some((path) => path.startsWith('/docs'))).toBe(false);
  });
});

describe('Swagger UI at /docs', () => {
  it('serves HTML', async () => {
    const res = await api.app.inject({ url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/swagger/i);
  });
});
