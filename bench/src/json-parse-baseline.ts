/**
 * Child process: the cost of one full `JSON.parse` of an S5 message, the yardstick of S5's goal.
 * Run pinned to the CPU the targets use, between targets. Prints one JSON line.
 * Usage: node json-parse-baseline.js <payloadBytes> <durationMs>
 */
import { monotonicMicros } from './clock.js';
import { UpdateMessages } from './update-message.js';

const payloadBytes = Number(process.argv[2] ?? 160);
const durationMs = Number(process.argv[3] ?? 1000);
const builder = new UpdateMessages(payloadBytes);
// Distinct strings, as the gateway receives them: no parse result can be reused.
const messages = Array.from({ length: 50_000 }, (_, i) =>
  builder.build(`task-${i}`, i + 1, 1_000_000_000_000 + i),
);

let sink = 0;
function parseFor(ms: number): { parses: number; micros: number } {
  const start = monotonicMicros();
  const deadline = start + ms * 1000;
  let parses = 0;
  while (monotonicMicros() < deadline) {
    for (let i = 0; i < 1000; i += 1) {
      const parsed = JSON.parse(messages[(parses + i) % messages.length]) as { seq: number };
      sink += parsed.seq;
    }
    parses += 1000;
  }
  return { parses, micros: monotonicMicros() - start };
}

parseFor(Math.max(50, durationMs / 5)); // warm-up: optimized code, settled heap
const { parses, micros } = parseFor(durationMs);
process.stdout.write(
  `${JSON.stringify({
    nsPerParse: (micros * 1000) / parses,
    messageBytes: Buffer.byteLength(messages[0]),
    parses,
    sink: sink > 0,
  })}\n`,
);
