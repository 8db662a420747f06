# syntax=docker/dockerfile:1
# One image recipe, one target per app: `docker build --target api .` / `--target worker`.

FROM node:24-bookworm-slim AS base
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true TURBO_TELEMETRY_DISABLED=1
RUN npm install -g pnpm@10.34.8
WORKDIR /repo

FROM base AS build
# Manifests first, so the dependency layer is cached until they change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY packages/core/package.json packages/core/
COPY packages/messaggio/package.json packages/messaggio/
RUN pnpm install --frozen-lockfile
COPY . .
RUN pnpm build \
 && pnpm deploy --legacy --filter @otp/api --prod /out/api \
 && pnpm deploy --legacy --filter @otp/worker --prod /out/worker

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
USER node

FROM runtime AS api
COPY --from=build --chown=node:node /out/api /app
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/server.js"]

FROM runtime AS worker
COPY --from=build --chown=node:node /out/worker /app
# The worker has no HTTP port yet; the check is that the process is alive and its
# Redis answers.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const s=require('net').connect({host:new URL(process.env.REDIS_URL||'redis://127.0.0.1:6379').hostname,port:+(new URL(process.env.REDIS_URL||'redis://127.0.0.1:6379').port||6379)},()=>s.write('PING\\r\\n'));s.on('data',d=>process.exit(String(d).startsWith('+PONG')?0:1));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),4000)"]
CMD ["node", "dist/main.js"]
