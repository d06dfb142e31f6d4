const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const COLON = 0x3a; // :
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * The task id a task's shard channel (`<channel>:{<p>}:<task_id>`) names, read from the raw
 * channel name; undefined for any other channel (a group's, `{g<q>}`, names no task). A task id
 * holds no `}`, so the last `}:` ends the hash tag whatever the base channel contains.
 */
export function shardChannelTaskId(channel: Buffer): string | undefined {
  let close = channel.length - 2;
  while (close >= 0 && !(channel[close] === CLOSE_BRACE && channel[close + 1] === COLON)) {
    close -= 1;
  }
  if (close < 0) return undefined;
  let open = close - 1;
  while (open >= 0 && channel[open] >= DIGIT_0 && channel[open] <= DIGIT_9) open -= 1;
  // Digits only between the braces: a task's partition, not another kind of channel.
  if (open < 0 || open === close - 1 || channel[open] !== OPEN_BRACE) return undefined;
  // Task ids are ASCII (the gateway subscribes no other), which latin1 decodes exactly and cheaply.
  return channel.toString('latin1', close + 2);
}
