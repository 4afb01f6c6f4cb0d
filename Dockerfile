# One image for every role (API, worker, agent); the compose file picks the command.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# Workspace manifests first so the dependency layer is cached across source changes.
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/testkit/package.json packages/testkit/
COPY packages/client/package.json packages/client/
COPY packages/cli/package.json packages/cli/
COPY packages/dashboard/package.json packages/dashboard/
COPY services/api/package.json services/api/
COPY services/worker/package.json services/worker/
COPY services/agent/package.json services/agent/
COPY apps/vmo/package.json apps/vmo/
COPY bench/package.json bench/
RUN npm ci --no-audit --no-fund --include=dev
COPY packages packages
COPY services services
COPY apps apps
COPY scripts scripts
# The dashboard's static files, which the API serves at / (npm run api would build them, but as root only).
RUN npx tsx packages/dashboard/ensure-built.ts
# VMO_RUN_AS switches users with setpriv (util-linux, part of the base image): fail the build, not a job.
RUN command -v setpriv >/dev/null
# Unprivileged by default (the API). The compose file runs the worker and the agent as root with
# VMO_RUN_AS=node: only to start each job as `node`, who cannot read their environment or files.
USER node
EXPOSE 3121
CMD ["npm", "run", "api"]
