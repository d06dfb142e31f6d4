# syntax=docker/dockerfile:1

# Build stage: the full dependency set (the Nest CLI and TypeScript are dev dependencies).
FROM node:20-bookworm-slim AS build
WORKDIR /app
# client/package.json first: npm ci links node_modules/@task-status/client to ./client.
COPY package.json package-lock.json ./
COPY client/package.json ./client/
RUN npm ci --no-audit --no-fund
# The client package before the server: the server imports its protocol definition
# (@task-status/client/protocol), and the demo page at / its ES modules. Built with the root's
# TypeScript.
COPY client/tsconfig.json client/tsconfig.build.json ./client/
COPY client/src ./client/src
RUN npm run build:client
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build:server

# Runtime stage: production dependencies and the compiled output only.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    LOG_FORMAT=json \
    HOST=0.0.0.0 \
    PORT=8001
WORKDIR /app
# package.json is needed at run time too: its "type": "module" makes dist/*.js ES modules.
COPY package.json package-lock.json ./
COPY client/package.json ./client/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The client package's build: imported by the server at run time (through the
# node_modules/@task-status/client link), and the modules the demo page loads.
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
