import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@otp/core';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_ERRORS, WEBHOOK_ROUTE_ERRORS } from '../src/routes/route-errors.js';
import { ERROR_CODES } from '../src/schemas/error-codes.js';
import { buildTestApi, type TestApi } from './helper.js';

interface Media {
  schema: { $ref?: string; properties?: Record<string, { enum?: string[] }> };
  examples?: Record<string, { value: { statusCode: number; code: string; message: string } }>;
}
interface Operation {
  summary?: string;
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  responses: Record<string, { description: string; content?: Record<string, Media> }>;
  security?: Record<string, string[]>[];
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> };
}

let api: TestApi;
let doc: OpenApiDocument;

/** Every `code` the document lists for one operation, across its error statuses. */
function documentedCodes(method: string, path: string): string[] {
  const responses = doc.paths[path]?.[method]?.responses ?? {};
  return Object.values(responses).flatMap(
    (response) => response.content?.['application/json']?.schema.properties?.code?.enum ?? [],
  );
}
beforeAll(async () => {
  api = await buildTestApi({
    ADMIN_USER: 'ops',
    ADMIN_PASSWORD: 'admin-password-0123456789',
    // Provider webhook routes exist only for configured providers.
    MESSAGGIO_WEBHOOK_SECRET: 'wh-4f1c9a7e2b8d0c6a5e3f1b9d7c2a8e0f',
  });
  const res = await api.app.inject({ url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(async () => {
  await api.close();
});

describe('the OpenAPI document at /docs/json', () => {
  it('describes the issue 12 fields: resent, locale, app_hash', () => {
    const send = doc.paths['/send-otp/']?.post;
    const answer = send?.responses['200']?.content?.['application/json']?.schema as {
      properties: Record<string, { description?: string }>;
    };
    expect(answer.properties.resent?.description).toMatch(/same code/);
    const body = send?.requestBody?.content['application/json']?.schema as {
      properties: Record<string, { description?: string; pattern?: string }>;
    };
    expect(body.properties.app_hash).toMatchObject({ pattern: '^[A-Za-z0-9+/]{11}$' });
    expect(body.properties.locale?.description).toMatch(/template/);
  });

  it.each([
    [
      '/send-otp/',
      ['phone_number', 'purpose', 'metadata', 'locale', 'app_hash'],
      ['200', '400', '401', '403', '409', '413', '415', '422', '429', '500', '503'],
    ],
    [
      '/verify-otp/',
      ['phone_number', 'code', 'purpose'],
      ['200', '400', '401', '403', '413', '415', '429', '500', '503'],
    ],
  ])('documents POST %s: body, every response, and the API key', (path, fields, statuses) => {
    const operation = doc.paths[path]?.post;
    expect(operation?.summary).toBeTruthy();
    const body = operation?.requestBody?.content['application/json']?.schema;
    expect(Object.keys(body?.properties ?? {})).toEqual(fields);
    expect(Object.keys(operation?.responses ?? {}).sort()).toEqual(statuses);
    expect(operation?.responses['200']?.description).not.toBe('Default Response');
    for (const status of statuses.filter((s) => s !== '200')) {
      // Each error status names the codes that come with it.
      expect(operation?.responses[status]?.description).toMatch(/`[A-Z_]+`: /);
    }
    expect(operation?.security).toEqual([{ apiKey: [] }, { apiKeyHeader: [] }, {}]);
  });

  it('lists per route only the codes it answers: no verify codes on /send-otp/', () => {
    const send = documentedCodes('post', '/send-otp/');
    for (const code of ['OTP_INVALID', 'OTP_EXPIRED', 'OTP_ATTEMPTS_EXCEEDED', 'VERIFY_LIMIT_EXCEEDED']) {
      expect(send).not.toContain(code);
      expect(documentedCodes('post', '/verify-otp/')).toContain(code);
    }
    expect(send).toContain('RESEND_TOO_SOON');
  });

  it('every code each route can answer is in its document, and nothing else', () => {
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    // One pair of webhook routes per configured provider, all with the same list.
    const webhooks = operations.filter((op) => op.startsWith('POST /webhooks/'));
    expect(webhooks).toContain('POST /webhooks/messaggio');
    // Every documented operation has its list in code, and every list a documented operation.
    expect(operations.filter((op) => !webhooks.includes(op)).sort()).toEqual(
      Object.keys(ROUTE_ERRORS).sort(),
    );
    const lists: [string, readonly string[]][] = [
      ...Object.entries(ROUTE_ERRORS),
      ...webhooks.map((op): [string, readonly string[]] => [op, WEBHOOK_ROUTE_ERRORS]),
    ];
    for (const [route, codes] of lists) {
      const [method = '', path = ''] = route.split(' ');
      expect(documentedCodes(method.toLowerCase(), path).sort(), route).toEqual([...new Set(codes)].sort());
    }
  });

  it('gives each error status its own examples, one per code, each with that status and code', () => {
    const seen = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (status.startsWith('2')) {
            expect(response.description, `${method} ${path} ${status}`).not.toBe('Default Response');
            continue;
          }
          const media = response.content?.['application/json'];
          const enumCodes = media?.schema.properties?.code?.enum ?? [];
          const examples = Object.entries(media?.examples ?? {});
          expect(examples.map(([name]) => name).sort(), `${method} ${path} ${status}`).toEqual(
            [...enumCodes].sort(),
          );
          for (const [name, { value }] of examples) {
            expect(value).toMatchObject({ statusCode: Number(status), code: name });
            expect(value.message).not.toBe('');
            seen.add(`${status} ${name}`);
          }
        }
      }
    }
    // Not one example for all: 400 PHONE_INVALID is no longer the example of a 429.
    expect(seen.has('429 RESEND_TOO_SOON')).toBe(true);
    expect(seen.has('404 VERIFICATION_NOT_FOUND')).toBe(true);
  });

  it('lists every error code in ErrorResponse.code', () => {
    const code = doc.components.schemas.ErrorResponse?.properties.code;
    expect(code?.enum?.slice().sort()).toEqual(Object.values(ErrorCode).sort());
    // And each code is documented with its status.
    expect(Object.keys(ERROR_CODES).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it("the README's error table lists every code with its status", () => {
    const readme = readFileSync(join(import.meta.dirname, '../../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Errors'));
    const table = section.slice(0, section.indexOf('\n#'));
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      expect(table, code).toMatch(new RegExp(`^\\| ${status} +\\|[^\\n]*\`${code}\``, 'm'));
    }
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

describe('answers match the document', () => {
  /** Requests that draw error answers from each route, as a client could send them. */
  const cases: Array<[string, InjectOptions]> = [
    ['POST /send-otp/', { method: 'POST', url: '/send-otp/', payload: {} }],
    ['POST /send-otp/', { method: 'POST', url: '/send-otp/', payload: { phone_number: '123' } }],
    ['POST /send-otp/', { method: 'POST', url: '/send-otp/', payload: { phone_number: '+12025550123' } }],
    [
      'POST /send-otp/',
      { method: 'POST', url: '/send-otp/', payload: 'x', headers: { 'content-type': 'text/plain' } },
    ],
    ['POST /send-otp/', { method: 'POST', url: '/send-otp/', payload: { phone_number: 'x'.repeat(5000) } }],
    [
      'POST /verify-otp/',
      { method: 'POST', url: '/verify-otp/', payload: { phone_number: '+77081110000', code: '123456' } },
    ],
    [
      'POST /verify-otp/',
      { method: 'POST', url: '/verify-otp/', payload: { phone_number: '+77081110000', code: '12' } },
    ],
    [
      'GET /verifications/{id}',
      { method: 'GET', url: '/verifications/0b6c7d1e-4b43-4a52-9d7e-5f0d6f1b2a3c' },
    ],
    [
      'POST /webhooks/messaggio/{*}',
      { method: 'POST', url: '/webhooks/messaggio/not-the-secret', payload: {} },
    ],
    ['GET /metrics', { method: 'GET', url: '/metrics' }],
  ];

  it.each(cases)('%s: the answer carries a code the document lists for it', async (route, request) => {
    const res = await api.app.inject(request);
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    const [method = '', path = ''] = route.split(' ');
    const body = res.json();
    expect(documentedCodes(method.toLowerCase(), path), `${res.statusCode} ${body.code}`).toContain(
      body.code,
    );
    expect(Object.keys(doc.paths[path]?.[method.toLowerCase()]?.responses ?? {})).toContain(
      String(res.statusCode),
    );
  });
});

describe('a known path with a wrong method', () => {
  it.each([
    ['GET', '/send-otp/', 'POST'],
    ['GET', '/verify-otp', 'POST'],
    ['DELETE', '/verifications/0b6c7d1e-4b43-4a52-9d7e-5f0d6f1b2a3c', 'GET, HEAD'],
    ['POST', '/health/live', 'GET, HEAD'],
  ] as const)('%s %s answers 405 METHOD_NOT_ALLOWED with Allow: %s', async (method, url, allow) => {
    const res = await api.app.inject({ method, url });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.json()).toEqual({
      statusCode: 405,
      code: 'METHOD_NOT_ALLOWED',
      error: 'Method Not Allowed',
      message: expect.stringContaining(`${method} is not allowed`),
    });
  });

  it('an unknown path, and the webhook path (its secret must stay unconfirmed), still answer 404', async () => {
    for (const [method, url] of [
      ['GET', '/no-such-path'],
      ['GET', '/webhooks/messaggio/guessed-secret-0123456789'],
    ] as const) {
      const res = await api.app.inject({ method, url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().code).toBe('NOT_FOUND');
      expect(res.headers.allow).toBeUndefined();
    }
  });
});
