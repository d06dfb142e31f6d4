import { parseTaskUpdate } from '../../src/outbound/task-update.parser.js';
import type { SeededRandom } from './seeded-random.js';

/** One WebSocket message as the fuzzer sends it: one frame, or several fragments. */
export interface FuzzMessage {
  category: FuzzCategory;
  frames: Array<{ data: string | Buffer; binary: boolean; fin: boolean; pingBefore?: boolean }>;
  /** The server must close the connection (1007, 1009) instead of answering. */
  fatal: boolean;
}

export type FuzzCategory =
  | 'valid'
  | 'mutated'
  | 'wrong_types'
  | 'prototype_keys'
  | 'giant_task_id'
  | 'deep_nesting'
  | 'not_an_object'
  | 'binary'
  | 'fragmented'
  | 'invalid_utf8'
  | 'oversized';

export const TASK_POOL_SIZE = 40;
export const fuzzTaskId = (random: SeededRandom): string =>
  `fz-${random.int(0, TASK_POOL_SIZE - 1)}`;

const ODD_CHARACTERS = [
  '"',
  '\\',
  '{',
  '}',
  '[',
  ']',
  ':',
  ',',
  '\u0000',
  '\u001f',
  '\ud800',
  '\udfff',
  '\u2028',
  '\ufeff',
  '💥',
  'é',
  ' ',
  '\n',
  'e',
  '-',
  '0',
  '9',
  'null',
  'true',
  '1e309',
];

const WRONG_VALUES: readonly unknown[] = [
  123,
  -1,
  0,
  1e308,
  -0,
  true,
  false,
  null,
  [],
  ['task-1'],
  {},
  { $ne: 1 },
  '',
  ' ',
  'SUBSCRIBE',
  'subscribe\u0000',
  'ping ',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '../../etc/passwd',
  'a b',
  'a/b',
  '__canary__:fuzz',
  '💥',
  '\ud800',
];

function validMessage(random: SeededRandom): string {
  switch (random.int(0, 2)) {
    case 0:
      return JSON.stringify({ type: 'subscribe', task_id: fuzzTaskId(random) });
    case 1:
      return JSON.stringify({ type: 'unsubscribe', task_id: fuzzTaskId(random) });
    default:
      return JSON.stringify({ type: 'ping' });
  }
}

/** 1–4 random edits of a text: replace, delete, insert, duplicate, truncate. */
export function mutate(random: SeededRandom, text: string): string {
  let result = text;
  const edits = random.int(1, 4);
  for (let edit = 0; edit < edits && result.length > 0; edit += 1) {
    const at = random.int(0, result.length - 1);
    switch (random.int(0, 4)) {
      case 0:
        result = result.slice(0, at) + random.pick(ODD_CHARACTERS) + result.slice(at + 1);
        break;
      case 1:
        result = result.slice(0, at) + result.slice(at + random.int(1, 8));
        break;
      case 2:
        result = result.slice(0, at) + random.pick(ODD_CHARACTERS) + result.slice(at);
        break;
      case 3:
        result =
          result.slice(0, at) +
          result.slice(at, at + random.int(1, 16)).repeat(2) +
          result.slice(at);
        break;
      default:
        result = result.slice(0, at);
    }
  }
  return result;
}

function wrongTypes(random: SeededRandom): string {
  const value = random.pick(WRONG_VALUES);
  switch (random.int(0, 3)) {
    case 0:
      return JSON.stringify({ type: value });
    case 1:
      return JSON.stringify({ type: random.pick(['subscribe', 'unsubscribe']), task_id: value });
    case 2:
      return JSON.stringify({ type: 'ping', task_id: value, extra: value });
    default:
      // A duplicated key: JSON.parse keeps the last one.
      return `{"type":"ping","type":${JSON.stringify(value) ?? 'null'},"task_id":"${fuzzTaskId(random)}"}`;
  }
}

function prototypeKeys(random: SeededRandom): string {
  const taskId = fuzzTaskId(random);
  return random.pick([
    `{"__proto__":{"type":"subscribe","task_id":"${taskId}"}}`,
    `{"type":"subscribe","task_id":"${taskId}","__proto__":{"polluted":true,"type":"ping"}}`,
    `{"constructor":{"prototype":{"polluted":true}},"type":"ping"}`,
    `{"type":"subscribe","task_id":"${taskId}","constructor":{"prototype":{"polluted":true}}}`,
    `{"type":"subscribe","task_id":{"__proto__":{"length":1,"toString":"x"}}}`,
    `{"type":"__proto__","task_id":"${taskId}"}`,
    `{"type":"constructor"}`,
    `{"type":"hasOwnProperty"}`,
    `{"__proto__":null,"type":"unsubscribe","task_id":"${taskId}"}`,
    `{"type":"unsubscribe","task_id":"${taskId}","prototype":{"__proto__":{"polluted":1}}}`,
  ]);
}

function giantTaskId(random: SeededRandom): string {
  const character = random.pick(['a', '-', '.', ':', '_', '9', 'é']);
  // Within WS_MAX_MESSAGE_BYTES (4096), 'é' being two bytes: too long for the rule, not for ws.
  const length = random.int(129, character === 'é' ? 1_900 : 3_800);
  return JSON.stringify({
    type: random.pick(['subscribe', 'unsubscribe']),
    task_id: character.repeat(length),
  });
}

function deepNesting(random: SeededRandom): string {
  const depth = random.int(50, 1_900);
  const open = random.chance(0.5) ? '['.repeat(depth) : '{"a":'.repeat(Math.floor(depth / 3));
  const close = open.startsWith('[') ? ']'.repeat(depth) : '}'.repeat(Math.floor(depth / 3));
  switch (random.int(0, 2)) {
    case 0:
      return `{"type":"subscribe","task_id":${open}1${close}}`;
    case 1:
      return `${open}1${close}`;
    default:
      return `{"type":"ping","nested":${open}null${close}}`;
  }
}

function notAnObject(random: SeededRandom): string {
  return random.pick([
    '',
    ' ',
    'null',
    'true',
    '0',
    '-0',
    '1e999999',
    'NaN',
    '"subscribe"',
    '[]',
    '[{"type":"ping"}]',
    '"{\\"type\\":\\"ping\\"}"',
    '\ufeff{"type":"ping"}',
    '{"type":"ping"} {"type":"ping"}',
    `${validMessage(random)}\u0000`,
    `   ${validMessage(random)}   `,
  ]);
}

function split(random: SeededRandom, data: Buffer, binary: boolean): FuzzMessage['frames'] {
  const count = Math.min(data.length, random.int(2, 6));
  const frames: FuzzMessage['frames'] = [];
  let start = 0;
  for (let index = 0; index < count; index += 1) {
    const end = index === count - 1 ? data.length : random.int(start, data.length);
    frames.push({
      data: data.subarray(start, end),
      binary,
      fin: index === count - 1,
      // A control frame between fragments is allowed by RFC 6455.
      pingBefore: index > 0 && random.chance(0.3),
    });
    start = end;
  }
  return frames;
}

const INVALID_UTF8 = [
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0xbc],
  [0xff],
  [0xed, 0xa0, 0x80], // an encoded surrogate
  [0xc0, 0xaf], // an overlong '/'
];

/** One random client message, drawn from every category with fixed weights. */
export function fuzzMessage(random: SeededRandom, maxMessageBytes: number): FuzzMessage {
  const categories: Array<[FuzzCategory, number]> = [
    ['valid', 22],
    ['mutated', 22],
    ['wrong_types', 14],
    ['prototype_keys', 8],
    ['giant_task_id', 5],
    ['deep_nesting', 5],
    ['not_an_object', 8],
    ['binary', 5],
    ['fragmented', 9],
    ['invalid_utf8', 1],
    ['oversized', 1],
  ];
  const category = categories[random.weighted(categories.map(([, weight]) => weight))][0];
  const text = (data: string): FuzzMessage => ({
    category,
    frames: [{ data, binary: false, fin: true }],
    fatal: false,
  });
  switch (category) {
    case 'valid':
      return text(validMessage(random));
    case 'mutated':
      return text(mutate(random, random.chance(0.7) ? validMessage(random) : wrongTypes(random)));
    case 'wrong_types':
      return text(wrongTypes(random));
    case 'prototype_keys':
      return text(prototypeKeys(random));
    case 'giant_task_id':
      return text(giantTaskId(random));
    case 'deep_nesting':
      return text(deepNesting(random));
    case 'not_an_object':
      return text(notAnObject(random));
    case 'binary':
      return {
        category,
        frames: [
          {
            data: random.chance(0.5)
              ? random.bytes(random.int(0, 256))
              : Buffer.from(validMessage(random)),
            binary: true,
            fin: true,
          },
        ],
        fatal: false,
      };
    case 'fragmented': {
      const binary = random.chance(0.15);
      const source = random.pick([validMessage, wrongTypes, prototypeKeys, deepNesting])(random);
      return { category, frames: split(random, Buffer.from(source), binary), fatal: false };
    }
    case 'invalid_utf8': {
      const bytes = Buffer.concat([
        Buffer.from('{"type":"subscribe","task_id":"'),
        Buffer.from(random.pick(INVALID_UTF8)),
        Buffer.from('"}'),
      ]);
      const frames = random.chance(0.5)
        ? split(random, bytes, false)
        : [{ data: bytes, binary: false, fin: true }];
      return { category, frames, fatal: true };
    }
    case 'oversized': {
      const padding = 'x'.repeat(random.int(maxMessageBytes + 1, maxMessageBytes * 4));
      const data = Buffer.from(JSON.stringify({ type: 'ping', padding }));
      const frames = random.chance(0.5)
        ? split(random, data, false)
        : [{ data, binary: false, fin: true }];
      return { category, frames, fatal: true };
    }
  }
}

/** What a Redis message is, by the gateway's rules (the same parser), for the counts. */
export type RedisClass = 'good' | 'routable' | 'canary' | 'dropped';

export interface RedisFuzzMessage {
  payload: string | Buffer;
  kind: string;
  /** A stored state (SET) rather than a publish. */
  store?: { key: string };
}

const GOOD_PREFIX = 'good-';

/** Classifies a payload as the gateway will; `good` ones are the well-behaved client's updates. */
export function classifyRedisPayload(payload: string | Buffer): RedisClass {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  const update = parseTaskUpdate(text);
  if (typeof update === 'string') return 'dropped';
  if (update.taskId.startsWith('__canary__:')) return 'canary';
  return update.taskId.startsWith(GOOD_PREFIX) ? 'good' : 'routable';
}

/** A malicious or malformed Redis message (never one for a good-* task). */
export function maliciousRedisMessage(random: SeededRandom, instanceId: string): RedisFuzzMessage {
  const taskId = fuzzTaskId(random);
  const deep = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const candidates: Array<() => RedisFuzzMessage> = [
    () => ({ kind: 'random_bytes', payload: random.bytes(random.int(0, 300)) }),
    () => ({
      kind: 'mutated',
      payload: mutate(
        random,
        JSON.stringify({ task_id: taskId, status: 'processing', progress: 50 }),
      ),
    }),
    () => ({
      kind: 'not_an_object',
      payload: random.pick(['[]', '"x"', '42', 'null', 'true', '']),
    }),
    () => ({
      kind: 'missing_task_id',
      payload: JSON.stringify({
        status: 'x',
        task_id: random.pick(WRONG_VALUES.filter((v) => typeof v !== 'string')),
      }),
    }),
    () => ({
      kind: 'invalid_task_id',
      payload: JSON.stringify({
        task_id: random.pick(['', 'a b', 'a/b', 'x'.repeat(129), '💥', '\u0000']),
        status: 'x',
      }),
    }),
    () => ({
      kind: 'deep_nesting',
      payload: `{"task_id":"${taskId}","d":${deep(random.int(200, 20_000))}}`,
    }),
    () => ({ kind: 'allowed_nesting', payload: `{"task_id":"${taskId}","d":${deep(100)}}` }),
    () => ({
      kind: 'prototype_keys',
      payload: `{"task_id":"${taskId}","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"status":"processing"}`,
    }),
    () => ({
      kind: 'odd_versions',
      payload: JSON.stringify({
        task_id: taskId,
        status: random.pick(['processing', 'completed', '', 123, null, {}, ['completed']]),
        version: random.pick(['NaN', 1e308, -1, {}, null, '7', Number.MAX_SAFE_INTEGER + 2]),
        updated_at: random.pick(['garbage', 1e20, -1, null, '2030-13-45T99:99:99Z', {}]),
      }),
    }),
    () => ({
      kind: 'forged_canary',
      payload: JSON.stringify({
        task_id: `__canary__:${random.chance(0.5) ? instanceId : 'someone-else'}`,
        sent_at: random.pick([0, -1, 'x', 1e308, Date.now() + 1e9]),
      }),
    }),
    () => ({
      kind: 'duplicate_task_id',
      payload: `{"task_id":"${taskId}","status":"processing","task_id":"${fuzzTaskId(random)}"}`,
    }),
    () => ({
      kind: 'huge',
      payload: JSON.stringify({
        task_id: taskId,
        status: 'processing',
        blob: 'y'.repeat(random.int(16, 256) * 1024),
      }),
    }),
    () => ({
      kind: 'stored_state',
      store: { key: `task:status:${taskId}` },
      payload: random.pick([
        `{"task_id":"${taskId}","d":${deep(10_000)}}`,
        `{"task_id":"${taskId}","status":"processing","__proto__":{"polluted":true}}`,
        `{"task_id":"another","status":"processing"}`,
        'not json',
        JSON.stringify({ task_id: taskId, status: 'processing', progress: random.int(0, 100) }),
      ]),
    }),
  ];
  const weights = [10, 20, 6, 6, 6, 6, 4, 6, 8, 3, 4, 1, 4];
  for (;;) {
    const message = candidates[random.weighted(weights)]();
    // A mutation could, in theory, turn into a valid update for a good task; never send one.
    if (message.store || classifyRedisPayload(message.payload) !== 'good') return message;
  }
}
