import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { described, errorResponses } from '../schemas/errors.js';
import { whileRedisAnswers } from '../services/redis-errors.js';
import { ROUTE_ERRORS } from './route-errors.js';

const Jwks = Type.Object({
  keys: Type.Array(
    Type.Object(
      {
        kty: Type.String({ examples: ['OKP'] }),
        kid: Type.String({ description: 'RFC 7638 thumbprint; the `kid` in a token header' }),
        alg: Type.Union([Type.Literal('EdDSA'), Type.Literal('ES256')]),
        use: Type.Literal('sig'),
        crv: Type.String({ examples: ['Ed25519'] }),
        x: Type.String(),
        y: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
  ),
});

/** The public keys `verification_token`s are signed with (RFC 7517), for relying services. */
const jwksRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get(
    '/.well-known/jwks.json',
    {
      schema: {
        summary: 'Public keys that verification tokens are signed with',
        description:
          'The current key and any key replaced less than one token lifetime ago (VERIFICATION_TOKEN_TTL_SECONDS), so tokens signed just before a rotation keep verifying. Public, like any JWKS.',
        tags: ['otp'],
        response: {
          200: described(Jwks, 'A JSON Web Key Set'),
          ...errorResponses(ROUTE_ERRORS['GET /.well-known/jwks.json']),
        },
      },
    },
    async (_request, reply) => {
      const jwks = await whileRedisAnswers(() => fastify.verificationTokens.jwks());
      // Short: a relying service that caches it still sees a new key within a minute.
      reply.header('cache-control', 'public, max-age=60');
      return jwks;
    },
  );
};

export default jwksRoutes;
