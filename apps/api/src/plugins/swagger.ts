import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { describeErrorStatus } from '../schemas/error-codes.js';

export interface SwaggerPluginOptions {
  /** Where Swagger UI is served; the document is at `${routePrefix}/json`. @defaultValue '/docs' */
  routePrefix?: string;
}

interface OpenApiResponse {
  description?: string;
  content?: Record<string, { schema?: { $ref?: string } }>;
}
type OpenApiPaths = Record<string, Record<string, { responses?: Record<string, OpenApiResponse> }>>;

const ERROR_SCHEMA_REF = '#/components/schemas/ErrorResponse';

/**
 * Each error answer in the document says which codes come with its status, so a client
 * author sees every `code` without reading the source.
 */
function describeErrorResponses(paths: OpenApiPaths | undefined): void {
  for (const methods of Object.values(paths ?? {})) {
    for (const operation of Object.values(methods)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const isError = Object.values(response.content ?? {}).some(
          (c) => c.schema?.$ref === ERROR_SCHEMA_REF,
        );
        const codes = describeErrorStatus(Number(status));
        if (isError && codes) response.description = codes;
      }
    }
  }
}

/**
 * The OpenAPI document, generated from the route schemas, and Swagger UI. Registered before
 * any route: @fastify/swagger learns routes as they are added. Bull Board's routes hide
 * themselves.
 */
export default fp<SwaggerPluginOptions>(
  async (fastify, { routePrefix = '/docs' }) => {
    await fastify.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'otp-service',
          description:
            'Phone verification by one-time SMS codes. Every error answer is `{ statusCode, code, error, message }`; branch on `code`. Each operation lists the codes it can answer. Besides those, any path answers `405 METHOD_NOT_ALLOWED` with an `Allow` header to a method it does not have, and an unknown path `404 NOT_FOUND`.',
          version: '1.0.0',
        },
        tags: [
          { name: 'otp', description: 'What clients call' },
          { name: 'health', description: 'For orchestrators' },
          { name: 'operations', description: 'For operators' },
        ],
        components: {
          securitySchemes: {
            apiKey: {
              type: 'http',
              scheme: 'bearer',
              description: 'An API key from API_KEYS (when any are set)',
            },
            apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key' },
            adminBasic: { type: 'http', scheme: 'basic', description: 'ADMIN_USER / ADMIN_PASSWORD' },
            adminKey: {
              type: 'http',
              scheme: 'bearer',
              description: 'The key whose SHA-256 is ADMIN_API_KEY',
            },
          },
        },
      },
      // Shared schemas keep their $id as their name: #/components/schemas/ErrorResponse.
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) =>
          typeof json.$id === 'string' ? json.$id : `def-${i}`,
      },
      // Each operation names the credentials it takes, from the hooks it runs: the client API
      // key is optional (only when API_KEYS is set), the admin credentials likewise.
      transform: ({ schema, url, route }) => {
        const hooks = [route.onRequest ?? []].flat();
        const security: Record<string, string[]>[] | undefined = hooks.includes(fastify.apiKeyAuth)
          ? [{ apiKey: [] }, { apiKeyHeader: [] }, {}]
          : hooks.includes(fastify.adminAuth)
            ? [{ adminBasic: [] }, { adminKey: [] }]
            : undefined;
        return { schema: security && !schema?.security ? { ...schema, security } : schema, url };
      },
      transformObject: (documents) => {
        if ('openapiObject' in documents) {
          describeErrorResponses(documents.openapiObject.paths as OpenApiPaths | undefined);
          return documents.openapiObject;
        }
        return documents.swaggerObject;
      },
    });
    await fastify.register(swaggerUi, { routePrefix, uiConfig: { docExpansion: 'list', deepLinking: true } });
  },
  { name: 'swagger' },
);
