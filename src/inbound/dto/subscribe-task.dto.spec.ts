import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { ProtocolErrorException } from '../protocol-error.exception.js';
import { createWsValidationPipe } from '../ws-validation.pipe.js';
import { SubscribeTaskDto } from './subscribe-task.dto.js';
import { UnsubscribeTaskDto } from './unsubscribe-task.dto.js';

const VALID_TASK_IDS: Record<string, string> = {
  uuid: '550e8400-e29b-41d4-a716-446655440000',
  'task-1': 'task-1',
  'test-123': 'test-123',
  '128 characters': 'x'.repeat(128),
  'colon, dot and underscore': 'org:42.job_7',
};

const INVALID_BODIES: Record<string, object> = {
  empty: { task_id: '' },
  '129 characters': { task_id: 'x'.repeat(129) },
  spaces: { task_id: 'task 1' },
  slash: { task_id: 'tasks/1' },
  unicode: { task_id: 'tâche-1' },
  number: { task_id: 42 },
  object: { task_id: { id: 'task-1' } },
  missing: {},
};

const DTOS = [SubscribeTaskDto, UnsubscribeTaskDto] as const;

for (const Dto of DTOS) {
  describe(Dto.name, () => {
    for (const [kind, taskId] of Object.entries(VALID_TASK_IDS)) {
      it(`accepts a task id: ${kind}`, async () => {
        // Arrange
        const dto = plainToInstance(Dto, { task_id: taskId });

        // Act
        const errors = await validate(dto);

        // Assert
        assert.deepEqual(errors, []);
        assert.equal(dto.task_id, taskId);
      });
    }

    for (const [kind, body] of Object.entries(INVALID_BODIES)) {
      it(`rejects a task id: ${kind}, naming task_id`, async () => {
        // Arrange
        const dto = plainToInstance(Dto, body);

        // Act
        const errors = await validate(dto);

        // Assert
        assert.equal(errors.length, 1);
        assert.equal(errors[0].property, 'task_id');
        const messages = Object.values(errors[0].constraints ?? {});
        assert.ok(messages.length > 0, 'expected at least one constraint message');
        for (const message of messages) assert.match(message, /task_id/);
      });
    }
  });
}

describe('createWsValidationPipe', () => {
  const metadata = { type: 'body', metatype: SubscribeTaskDto } as const;

  for (const [kind, body] of Object.entries(INVALID_BODIES)) {
    it(`rejects an invalid body (${kind}) with an invalid_message ProtocolErrorException`, async () => {
      // Arrange
      const pipe = createWsValidationPipe();

      // Act
      const rejection = pipe.transform({ type: 'subscribe', ...body }, metadata);

      // Assert
      await assert.rejects(rejection, (error: unknown) => {
        assert.ok(error instanceof ProtocolErrorException, `got ${String(error)}`);
        const { message, ...rest } = error.toMessage();
        assert.deepEqual(rest, { type: 'error', code: 'invalid_message', field: 'task_id' });
        assert.match(message, /^task_id must be /);
        return true;
      });
    });
  }

  it('rejects a null body naming task_id', async () => {
    // Arrange
    const pipe = createWsValidationPipe();

    // Act
    const rejection = pipe.transform(null, metadata);

    // Assert
    await assert.rejects(rejection, (error: unknown) => {
      assert.ok(error instanceof ProtocolErrorException, `got ${String(error)}`);
      assert.equal(error.toMessage().field, 'task_id');
      return true;
    });
  });

  it('resolves a valid body to a SubscribeTaskDto with unknown properties stripped', async () => {
    // Arrange
    const pipe = createWsValidationPipe();
    const body = { type: 'subscribe', task_id: 'task-1', extra: 'dropped', nested: { a: 1 } };

    // Act
    const result: unknown = await pipe.transform(body, metadata);

    // Assert
    assert.ok(result instanceof SubscribeTaskDto);
    assert.deepEqual({ ...result }, { task_id: 'task-1', group: undefined });
  });
});
