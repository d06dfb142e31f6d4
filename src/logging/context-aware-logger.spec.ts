import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContextAwareLogger } from './context-aware-logger.js';
import { logContext } from './log-context.js';

/** What the logger writes to stdout while `act` runs. */
function captureStdout(act: () => void): string[] {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  };
  try {
    act();
  } finally {
    process.stdout.write = write;
  }
  return lines;
}

function jsonLogger(): ContextAwareLogger {
  return new ContextAwareLogger({
    json: true,
    flattenParams: true,
    logLevels: ['log', 'warn', 'error'],
  });
}

describe('ContextAwareLogger', () => {
  it('adds the request id of the current context to a JSON line', () => {
    // Arrange
    const logger = jsonLogger();

    // Act
    const [line] = captureStdout(() =>
      logContext.run({ request_id: 'req-1' }, () => logger.log('handled', 'HTTP')),
    );

    // Assert
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.equal(record.request_id, 'req-1');
    assert.equal(record.message, 'handled');
    assert.equal(record.context, 'HTTP');
  });

  it('writes lines outside any request unchanged', () => {
    // Arrange
    const logger = jsonLogger();

    // Act
    const [line] = captureStdout(() => logger.warn('no request here', 'Bootstrap'));

    // Assert
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.equal('request_id' in record, false);
    assert.equal(record.message, 'no request here');
  });

  it('lets an explicit param win and keeps it beside the context fields', () => {
    // Arrange
    const logger = jsonLogger();

    // Act
    const [line] = captureStdout(() =>
      logContext.run({ request_id: 'from-context' }, () =>
        logger.log('explicit', { request_id: 'explicit-id', status: 200 }, 'HTTP'),
      ),
    );

    // Assert
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.equal(record.request_id, 'explicit-id');
    assert.equal(record.status, 200);
  });

  it('shows the request id after a text line', () => {
    // Arrange
    const logger = new ContextAwareLogger({ colors: false, logLevels: ['log'] });

    // Act
    const [line] = captureStdout(() =>
      logContext.run({ request_id: 'req-2' }, () => logger.log('handled', 'HTTP')),
    );

    // Assert
    assert.match(line, /\[HTTP\] handled \{ request_id: 'req-2' \}/);
  });
});
