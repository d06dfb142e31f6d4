/**
 * Updates nested deeper than this are dropped. The gateway re-encodes every update it relays
 * (JSON.stringify, which recurses and overflows V8's stack at a few thousand levels, where
 * JSON.parse does not), so a deeper one would throw inside the Redis message listener.
 * 128 levels is serde_json's default limit; the top-level object counts as one.
 */
export const MAX_UPDATE_NESTING = 128;

/**
 * Whether valid JSON text nests objects and arrays more than `max` levels deep. A linear scan
 * of the text, skipping string contents; text shorter than 2 × `max` cannot, and is not scanned.
 */
export function nestsDeeperThan(json: string, max: number): boolean {
  if (json.length <= 2 * max) return false;
  let depth = 0;
  let inString = false;
  for (let index = 0; index < json.length; index += 1) {
    const code = json.charCodeAt(index);
    if (inString) {
      if (code === 0x5c)
        index += 1; // a backslash escapes the next character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x7b || code === 0x5b) {
      depth += 1;
      if (depth > max) return true;
    } else if (code === 0x7d || code === 0x5d) {
      depth -= 1;
    }
  }
  return false;
}

/**
 * Client messages nested deeper than this are answered `invalid_message` before validation:
 * protocol messages are flat, and class-transformer recurses into every value (a 4 KiB message
 * can nest 2,000 levels, which overflows its stack).
 */
export const MAX_CLIENT_MESSAGE_NESTING = 32;
