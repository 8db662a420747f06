# syntax=docker/dockerfile:1
# One image recipe, one target per app:
#   docker build --target api .   |   --target worker   |   --target fake-messaggio (development only)
# test/deploy.test.ts keeps this file, docker-compose.yml and the code in step.

FROM node:24-bookworm-slim AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true TURBO_TELEMETRY_DISABLED=1
# Exactly the pnpm that package.json's packageManager names.
RUN npm install -g pnpm@10.34.8
WORKDIR /repo

FROM base AS build
# Manifests first, so the dependency layer is cached until they change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY packages/core/package.json packages/core/
COPY packages/messaggio/package.json packages/messaggio/
COPY packages/sms/package.json packages/sms/
COPY packages/twilio/package.json packages/twilio/
COPY packages/providers/package.json packages/providers/
RUN pnpm install --frozen-lockfile
COPY . .
# Each app gets a self-contained folder: its dist, its production dependencies, and the
# workspace packages it uses copied in (--legacy: no injected-workspace setup needed).
RUN pnpm build \
 && pnpm deploy --legacy --filter @otp/api --prod /out/api \
 && pnpm deploy --legacy --filter @otp/worker --prod /out/worker \
 && pnpm deploy --legacy --filter @otp/messaggio --prod /out/fake-messaggio

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# The image's own unprivileged user; nothing here needs root.
USER node

FROM runtime AS api
COPY --from=build --chown=node:node /out/api /app
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/server.js"]

FROM runtime AS worker
COPY --from=build --chown=node:node /out/worker /app
# /metrics, /health/live and /health/ready (METRICS_PORT). Also in this image:
# `node dist/bin/messaggio-check.js` (pnpm messaggio:check).
EXPOSE 9464
# Liveness only: a Redis outage is not cured by restarting workers. METRICS_PORT=0 turns
# the port off, and with it this check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const p=process.env.METRICS_PORT||9464;if(p==='0')process.exit(0);fetch('http://127.0.0.1:'+p+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]

# The fake Messaggio, for local runs and demos only: prints every SMS it accepts.
FROM runtime AS fake-messaggio
ENV NODE_ENV=development FAKE_MESSAGGIO_HOST=0.0.0.0 FAKE_MESSAGGIO_PORT=4010
COPY --from=build --chown=node:node /out/fake-messaggio /app
EXPOSE 4010
# Any HTTP answer (a 404 for GET) means it is up.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.FAKE_MESSAGGIO_PORT||4010)+'/').then(()=>process.exit(0),()=>process.exit(1))"]
CMD ["node", "dist/bin/fake-messaggio.js"]
