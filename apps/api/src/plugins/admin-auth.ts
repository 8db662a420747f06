import { STATUS_CODES } from 'node:http';
import { ErrorCode } from '@otp/core';
import type { FastifyReply, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { type AdminCredentials, adminChallenge, isAdmin } from '../auth/admin-credentials.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook for admin routes: 401 without valid admin credentials, 404 when none are configured. */
    adminAuth: onRequestHookHandler;
    /** Whether any admin credentials are configured (ADMIN_USER/ADMIN_PASSWORD or ADMIN_API_KEY). */
    adminEnabled: boolean;
  }
}

export interface AdminAuthPluginOptions {
  /** Undefined: no admin credentials, so admin-only routes answer 404. */
  credentials: AdminCredentials | undefined;
}

// The hook answers by itself instead of throwing: admin routes include Bull Board, whose
// plugin installs its own error handler that would turn a thrown 401 into a 500.
function refuse(reply: FastifyReply, status: 401 | 404, code: ErrorCode, message: string) {
  return reply
    .code(status)
    .send({ statusCode: status, code, error: STATUS_CODES[status] ?? 'Error', message });
}

/** Admin access for operators' routes: HTTP Basic (ADMIN_USER/ADMIN_PASSWORD) or ADMIN_API_KEY. */
export default fp<AdminAuthPluginOptions>(
  async (fastify, { credentials }) => {
    const challenge = credentials ? adminChallenge(credentials) : '';
    const adminAuth: onRequestHookHandler = async (request, reply) => {
      if (!credentials) {
        return refuse(reply, 404, ErrorCode.NOT_FOUND, `No route for ${request.method} ${request.url}.`);
      }
      if (isAdmin(credentials, request.headers)) return;
      request.log.info(
        {
          presented:
            request.headers.authorization !== undefined || request.headers['x-api-key'] !== undefined,
        },
        'admin request refused: bad or missing credentials',
      );
      reply.header('www-authenticate', challenge);
      return refuse(reply, 401, ErrorCode.UNAUTHORIZED, 'Admin credentials are required.');
    };
    fastify.decorate('adminAuth', adminAuth);
    fastify.decorate('adminEnabled', credentials !== undefined);
  },
  { name: 'admin-auth' },
);
