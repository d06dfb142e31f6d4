const GROUP_KEY = Buffer.from('"group"');
const QUOTE = 0x22;
const COLON = 0x3a;
/** The bytes of a group id (the task id rule), all ASCII. */
const GROUP_ID_BYTE = new Uint8Array(256);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-') {
  GROUP_ID_BYTE[char.charCodeAt(0)] = 1;
}
const MAX_GROUP_ID_LENGTH = 128;

/**
 * The group a raw update names, read from its bytes without parsing, so that an instance where a
 * group is watched can still drop updates of other groups cheaply: null when the bytes hold no
 * `"group"` at all (the update names none), the id when they hold it once as `"group":"<id>"`,
 * undefined when only a full parse can tell (twice, spaced, escaped, not a valid id). Used only
 * for messages whose task id peekTaskId read, which rules out `\u` escapes.
 */
export function peekGroup(payload: Buffer): string | null | undefined {
  const key = payload.indexOf(GROUP_KEY);
  if (key === -1) return null;
  if (payload.indexOf(GROUP_KEY, key + GROUP_KEY.length) !== -1) return undefined;
  let start = key + GROUP_KEY.length;
  if (payload[start] !== COLON || payload[start + 1] !== QUOTE) return undefined;
  start += 2;
  let end = start;
  while (end < payload.length && GROUP_ID_BYTE[payload[end]] === 1) end += 1;
  if (end === start || end - start > MAX_GROUP_ID_LENGTH || payload[end] !== QUOTE) {
    return undefined;
  }
  // Only ASCII passed the byte check, so latin1 decodes it exactly.
  return payload.toString('latin1', start, end);
}
