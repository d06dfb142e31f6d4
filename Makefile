# The two commands of the quick start: `make dev` and `make test`.
.PHONY: dev test install build lint start clean

# npm ci when node_modules is missing or older than the lock file.
node_modules/.package-lock.json: package-lock.json
	npm ci

install: node_modules/.package-lock.json

# The server imports the protocol from the client package (@task-status/client/protocol), so the
# npm scripts build client/ first: `build`, `start:dev`, `lint` and `pretest` all do.

## Install, make sure a Redis answers at REDIS_URL (starting a local one if needed), run in watch mode
## with the demo page's "simulate a task" endpoint on (unless DEMO_PUBLISH_ENABLED is set).
dev: install
	node scripts/ensure-redis.mjs
	DEMO_PUBLISH_ENABLED=$${DEMO_PUBLISH_ENABLED:-true} npm run start:dev

## Install, lint, and run every test (unit + e2e against real redis-server processes).
test: install
	npm run lint
	npm test

## The client package, then the server (dist/).
build: install
	npm run build

## Run the production build.
start: build
	node dist/main.js

lint: install
	npm run lint

clean:
	rm -rf dist build build-* coverage test-output client/dist client/build
