# syntax=docker/dockerfile:1

# Build stage: the full dependency set (the Nest CLI and TypeScript are dev dependencies).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build
# The typed client's ES modules for the demo page at / (built with the root's TypeScript).
COPY client/package.json client/tsconfig.json client/tsconfig.build.json ./client/
COPY client/src ./client/src
RUN npm run build --prefix client

# Runtime stage: production dependencies and the compiled output only.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    LOG_FORMAT=json \
    HOST=0.0.0.0 \
    PORT=8001
WORKDIR /app
# package.json is needed at run time too: its "type": "module" makes dist/*.js ES modules.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The demo page (public/) and the client modules it imports; found beside package.json.
COPY --from=build /app/client/dist ./client/dist
COPY public ./public

# Files stay owned by root (read-only for the process); the service runs as the image's node user.
USER node
EXPOSE 8001

# Liveness only: never depends on Redis. Slim images have no curl, so node's fetch does the request.
HEALTHCHECK --interval=15s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8001) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form, so SIGTERM reaches node directly and the graceful shutdown runs.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
