import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { fromFile, Parser, type AsyncAPIDocumentInterface } from '@asyncapi/parser';
import { Ajv, type ValidateFunction } from 'ajv';
import type { ClientMessageType, ErrorCode, ServerMessage } from '@task-status/client/protocol';
import { TASK_ID_PATTERN } from '@task-status/client/protocol';
import { parseTaskUpdate } from '../../src/outbound/task-update.parser.js';

// Paths are relative to the repository root, where the tests run.
const ASYNCAPI_PATH = resolve('docs/asyncapi.yaml');
const SCHEMA_PATH = resolve('docs/schemas/task-status-update.schema.json');

// Bound to the TypeScript unions: adding a message type or error code to the protocol without
// listing it here fails the build, and the tests below then demand it in the AsyncAPI document.
const CLIENT_TYPES = {
  subscribe: true,
  unsubscribe: true,
  ping: true,
  auth: true,
} satisfies Record<ClientMessageType, true>;
const SERVER_TYPES = {
  subscribed: true,
  unsubscribed: true,
  pong: true,
  authenticated: true,
  status_update: true,
  error: true,
} satisfies Record<ServerMessage['type'], true>;
const ERROR_CODES = {
  invalid_json: true,
  invalid_message: true,
  unknown_type: true,
  subscription_limit: true,
  unsupported_frame: true,
  internal_error: true,
  rate_limited: true,
  unauthorized: true,
  forbidden: true,
} satisfies Record<ErrorCode, true>;

type Json = Record<string, unknown>;

function read(path: string): string {
  return readFileSync(resolve(path), 'utf8');
}

/** The fenced code blocks of a Markdown text, with their language tag. */
function codeBlocks(markdown: string): Array<{ lang: string; body: string }> {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map(([, lang, body]) => ({
    lang,
    body,
  }));
}

/** The plain JSON of a parsed schema, $refs resolved. */
function schemaJson(schema: { json(): unknown } | undefined): Json | undefined {
  return schema?.json() as Json | undefined;
}

function describeErrors(validate: ValidateFunction): string {
  return JSON.stringify(validate.errors);
}

describe('the machine-readable contract', () => {
  let schema: Json;
  let validateUpdate: ValidateFunction;
  let document: AsyncAPIDocumentInterface;
  /** The payload validator of each WebSocket message, by its `type`. */
  const validateByType = new Map<string, ValidateFunction>();

  before(async () => {
    schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Json;
    validateUpdate = new Ajv({ allErrors: true }).compile(schema);

    const parsed = await fromFile(new Parser(), ASYNCAPI_PATH).parse();
    // Severity 0 is DiagnosticSeverity.Error (the parser's dependencies carry two copies of the enum).
    const errors = parsed.diagnostics.filter((d) => Number(d.severity) === 0);
    assert.deepEqual(
      errors.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`),
      [],
      'AsyncAPI parse errors',
    );
    assert.ok(parsed.document, 'the AsyncAPI document parsed');
    document = parsed.document;

    // The parser resolves $refs (the external schema file too) and annotates schemas with
    // x-parser-* keys, hence non-strict mode for these.
    const ajv = new Ajv({ strict: false, allErrors: true });
    for (const message of document.messages().all()) {
      const payload = schemaJson(message.payload());
      const type = (payload?.properties as Record<string, { const?: string }> | undefined)?.type
        ?.const;
      if (type !== undefined) validateByType.set(type, ajv.compile(payload as Json));
    }
  });

  describe('docs/schemas/task-status-update.schema.json', () => {
    it('is a valid draft-07 schema whose own examples validate', () => {
      const examples = schema.examples as Json[];
      assert.ok(examples.length >= 2);
      for (const example of examples) {
        assert.ok(validateUpdate(example), describeErrors(validateUpdate));
      }
    });

    it('has the gateway task_id rule', () => {
      const taskId = (schema.properties as Record<string, { pattern: string }>).task_id;
      assert.equal(taskId.pattern, TASK_ID_PATTERN.source);
    });

    it('accepts and rejects task ids as the gateway does', () => {
      const candidates: Json[] = [
        { task_id: 'task-1', status: 'processing', progress: 40 },
        { task_id: 'org:42.job_7', status: 'completed', result: { rows: 3 }, version: 7 },
        { task_id: 'a b', status: 'processing' },
        { task_id: '', status: 'processing' },
        { task_id: 'x'.repeat(129) },
        { task_id: 123, status: 'processing' },
        { status: 'processing' },
      ];
      // On the task_id rule, which is all the gateway checks, both must agree.
      for (const candidate of candidates) {
        const relayed = typeof parseTaskUpdate(JSON.stringify(candidate)) !== 'string';
        assert.equal(validateUpdate(candidate), relayed, JSON.stringify(candidate));
      }
    });
  });

  describe('docs/asyncapi.yaml', () => {
    it('describes every client and server message of the protocol', () => {
      const types = [...validateByType.keys()].sort();
      assert.deepEqual(types, [...Object.keys(CLIENT_TYPES), ...Object.keys(SERVER_TYPES)].sort());
    });

    it('lists every error code', () => {
      const errorCode = schemaJson(document.components().schemas().get('ErrorCode'));
      assert.deepEqual(
        [...((errorCode?.enum as string[]) ?? [])].sort(),
        Object.keys(ERROR_CODES).sort(),
      );
    });

    it('has the Redis channel, whose message payload is the published-message schema', () => {
      const channel = document.channels().get('taskStatusUpdates');
      assert.ok(channel, 'taskStatusUpdates channel');
      assert.equal(channel.address(), 'task_status_updates');
      const message = channel.messages().get('taskStatusUpdate');
      const payload = schemaJson(message?.payload());
      assert.equal(payload?.title, schema.title);
      assert.deepEqual(payload?.required, schema.required);
      assert.deepEqual(
        Object.keys(payload?.properties ?? {}),
        Object.keys(schema.properties ?? {}),
      );
    });

    it('has examples for every message, each valid against its payload', () => {
      for (const message of document.messages().all()) {
        const examples = message.examples().all();
        assert.ok(examples.length > 0, `${message.id()} has examples`);
        const payload = message.payload()?.json() as Json;
        const validate = new Ajv({ strict: false, allErrors: true }).compile(payload);
        for (const example of examples) {
          const value = example.payload();
          assert.ok(
            validate(value),
            `${message.id()} ${example.name()}: ${describeErrors(validate)}`,
          );
          if (message.id() === 'taskStatusUpdate') {
            assert.ok(
              validateUpdate(value),
              `standalone schema: ${describeErrors(validateUpdate)}`,
            );
          }
        }
      }
    });
  });

  /** Validates one JSON message found in the docs; returns whether it was a publisher message. */
  function checkDocumentedMessage(where: string, message: Json): 'published' | 'websocket' {
    if (typeof message.type !== 'string') {
      assert.ok(validateUpdate(message), `${where}: ${describeErrors(validateUpdate)}`);
      return 'published';
    }
    const validate = validateByType.get(message.type);
    assert.ok(validate, `${where}: no AsyncAPI message of type ${message.type}`);
    assert.ok(
      validate(message),
      `${where}: ${JSON.stringify(message)} ${describeErrors(validate)}`,
    );
    return 'websocket';
  }

  describe('the examples in the docs', () => {
    it('docs/protocol.md: JSON blocks and error answers match the contract', () => {
      const counts = { published: 0, websocket: 0 };
      for (const { lang, body } of codeBlocks(read('docs/protocol.md'))) {
        if (lang === 'json') {
          // Templates such as {"code":"<code>"} show a shape, not a message.
          if (/"<[^"]*>"/.test(body)) continue;
          counts[checkDocumentedMessage('protocol.md', JSON.parse(body) as Json)] += 1;
        } else if (lang === 'text') {
          // The error examples: client frames (many deliberately invalid) and the answers.
          for (const line of body.split('\n').filter((l) => l.startsWith('{"type":"error"'))) {
            counts[checkDocumentedMessage('protocol.md error example', JSON.parse(line) as Json)] +=
              1;
          }
        }
      }
      assert.ok(counts.published >= 1, 'protocol.md has a publisher example');
      assert.ok(counts.websocket >= 8, `protocol.md WebSocket examples: ${counts.websocket}`);
    });

    it('README.md: redis-cli commands, publisher snippets and wscat sessions match the contract', () => {
      const readme = read('README.md');
      let published = 0;
      // redis-cli PUBLISH channel '{…}', and SETEX key ttl '{…}' for the stored state.
      for (const [, json] of readme.matchAll(
        /(?:PUBLISH\s+\S+|SETEX\s+\S+\s+\d+)\s+'(\{[^']*\})'/g,
      )) {
        checkDocumentedMessage('README PUBLISH', JSON.parse(json) as Json);
        published += 1;
      }
      assert.ok(published >= 2, `README PUBLISH commands: ${published}`);

      // The Python (json.dumps) and Node (JSON.stringify) publisher snippets: their object
      // literals are also JavaScript, evaluated here in an empty context.
      let snippets = 0;
      for (const { lang, body } of codeBlocks(readme)) {
        if (!/publish\(/.test(body)) continue;
        const literal = /(?:json\.dumps|JSON\.stringify)\((\{[\s\S]*?\})\)/.exec(body)?.[1];
        if (!literal) continue;
        const message = runInNewContext(`(${literal})`, {}, { timeout: 1_000 }) as Json;
        checkDocumentedMessage(
          `README ${lang} snippet`,
          JSON.parse(JSON.stringify(message)) as Json,
        );
        snippets += 1;
      }
      assert.ok(snippets >= 2, `README publisher snippets: ${snippets}`);

      // wscat transcripts: "> " is what the client typed, "< " what the server answered.
      let frames = 0;
      for (const [, json] of readme.matchAll(/^[<>] (\{.*\})$/gm)) {
        checkDocumentedMessage('README wscat', JSON.parse(json) as Json);
        frames += 1;
      }
      assert.ok(frames >= 4, `README wscat frames: ${frames}`);
    });
  });
});
