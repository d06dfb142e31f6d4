import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolErrorException } from '../protocol-error.exception.js';
import { createWsValidationPipe } from '../ws-validation.pipe.js';
import { SubscribeTaskDto } from './subscribe-task.dto.js';
import { UnsubscribeTaskDto } from './unsubscribe-task.dto.js';

const INVALID_GROUPS: Record<string, unknown> = {
  empty: '',
  '129 characters': 'g'.repeat(129),
  spaces: 'org 42',
  slash: 'org/42',
  number: 42,
  null: null,
  object: { id: 'g' },
};

for (const Dto of [SubscribeTaskDto, UnsubscribeTaskDto]) {
  describe(`${Dto.name}: group`, () => {
    const metadata = { type: 'body', metatype: Dto } as const;

    it('accepts a group without a task_id', async () => {
      // Arrange
      const pipe = createWsValidationPipe();

      // Act
      const result: unknown = await pipe.transform(
        { type: 'x', group: 'org-42:team_a.b' },
        metadata,
      );

      // Assert
      assert.ok(result instanceof Dto);
      assert.equal(result.group, 'org-42:team_a.b');
      assert.equal(result.task_id, undefined);
    });

    for (const [kind, group] of Object.entries(INVALID_GROUPS)) {
      it(`rejects a group: ${kind}, naming group`, async () => {
        const pipe = createWsValidationPipe();

        const rejection = pipe.transform({ type: 'x', group }, metadata);

        await assert.rejects(rejection, (error: unknown) => {
          assert.ok(error instanceof ProtocolErrorException, `got ${String(error)}`);
          const { message, ...rest } = error.toMessage();
          assert.deepEqual(rest, { type: 'error', code: 'invalid_message', field: 'group' });
          assert.match(message, /^group must be a non-empty string of at most 128 characters/);
          return true;
        });
      });
    }

    it('still validates task_id when both are given (the gateway then refuses both)', async () => {
      const pipe = createWsValidationPipe();

      const rejection = pipe.transform({ type: 'x', task_id: 'a b', group: 'g' }, metadata);

      await assert.rejects(rejection, (error: unknown) => {
        assert.ok(error instanceof ProtocolErrorException);
        assert.equal(error.toMessage().field, 'task_id');
        return true;
      });
    });
  });
}
