# One image for every role; the default command is the API, the compose file picks the others:
#   node services/api/dist/main.mjs        the API (this image's CMD and HEALTHCHECK)
#   node services/worker/dist/main.mjs     a worker
#   node services/agent/dist/vmo-agent.mjs an agent
#   node apps/vmo/dist/main.mjs            all three in one process (a single machine)
# Built JavaScript only: no TypeScript, no tsx, no dev dependency at run time.

# The workspaces' manifests and the lockfile, apart, so both stages' `npm ci` layers stay cached
# until a dependency changes (npm ci needs every workspace's manifest, also for -w).
FROM node:20-bookworm-slim AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/testkit/package.json packages/testkit/
COPY packages/client/package.json packages/client/
COPY packages/cli/package.json packages/cli/
COPY packages/dashboard/package.json packages/dashboard/
COPY packages/ssh/package.json packages/ssh/
COPY services/api/package.json services/api/
COPY services/worker/package.json services/worker/
COPY services/agent/package.json services/agent/
COPY apps/vmo/package.json apps/vmo/
COPY bench/package.json bench/

# Build: every dependency (esbuild, Vite), then `npm run build`: the services' bundles
# (scripts/build-services.mjs), the dashboard's static files and the CLI.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY services services
COPY apps apps
COPY scripts scripts
RUN npm run build

# Run time: production dependencies of the services only, and the built files.
FROM node:20-bookworm-slim
# tini as PID 1: it forwards SIGTERM to node (which drains) and reaps the orphans of killed jobs.
# VMO_RUN_AS switches users with setpriv (util-linux, in the base image): fail the build, not a job.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && command -v setpriv >/dev/null
WORKDIR /app
ENV NODE_ENV=production
COPY --from=manifests /app ./
# Only these workspaces' dependencies, without dev ones and without the root's (tsx).
RUN npm ci --omit=dev --no-audit --no-fund -w @vmo/app -w @vmo/api -w @vmo/worker -w @vmo/agent \
 && npm cache clean --force
COPY --from=build /app/apps/vmo/dist apps/vmo/dist
COPY --from=build /app/services/api/dist services/api/dist
COPY --from=build /app/services/worker/dist services/worker/dist
COPY --from=build /app/services/agent/dist services/agent/dist
COPY --from=build /app/packages/dashboard/dist packages/dashboard/dist
# The migrations, applied at start (packages/shared/src/db/migrate.ts finds them beside its source).
COPY packages/shared/drizzle packages/shared/drizzle
# What GET /v1/agent/download and /v1/agent/install.sh are made of: the API bundles the agent from
# its sources with the agent's own options and tsconfig (esbuild is a dependency of the API), so a
# VM gets the bytes `npm run build` gives; and the installer, the unit and the compose enrol script.
COPY tsconfig.base.json ./
COPY packages/shared/src packages/shared/src
COPY packages/shared/tsconfig.json packages/shared/
COPY services/agent/src services/agent/src
COPY services/agent/deploy services/agent/deploy
COPY services/agent/build-options.mjs services/agent/tsconfig.json services/agent/
# Unprivileged by default (the API). The compose file runs the worker and the agent as root with
# VMO_RUN_AS=node: only to start each job as `node`, who cannot read their environment or files.
USER node
EXPOSE 3121
# The API's readiness (Postgres and Redis answer). Other roles serve no HTTP: their containers turn
# it off (docker-compose.yml: healthcheck: disable).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.VMO_PORT || 3121) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "services/api/dist/main.mjs"]
