import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as client from '../client/src/protocol.js';
import * as server from '../src/task-status/protocol.js';

/** `true` when every A is a B; a compile error below when not. */
type Extends<A, B> = [A] extends [B] ? true : false;
type Same<A, B> = Extends<A, B> extends true ? Extends<B, A> : false;

/**
 * The client package keeps its own copy of the protocol types (it must not import the server's
 * sources). These checks fail to compile when the copies drift apart in a way that matters.
 */
const compatible: {
  everyServerMessageIsUnderstoodByTheClient: Extends<server.ServerMessage, client.ServerMessage>;
  theClientKnowsEveryServerMessageType: Same<
    server.ServerMessage['type'],
    client.ServerMessage['type']
  >;
  everyClientMessageIsAcceptedByTheServer: Extends<client.ClientMessage, server.ClientMessage>;
  theSameClientMessageTypes: Same<client.ClientMessageType, server.ClientMessageType>;
  theSameErrorCodes: Same<client.ErrorCode, server.ErrorCode>;
  statusUpdates: Extends<server.StatusUpdateMessage, client.StatusUpdateMessage>;
  errors: Extends<server.ErrorMessage, client.ErrorMessage>;
} = {
  everyServerMessageIsUnderstoodByTheClient: true,
  theClientKnowsEveryServerMessageType: true,
  everyClientMessageIsAcceptedByTheServer: true,
  theSameClientMessageTypes: true,
  theSameErrorCodes: true,
  statusUpdates: true,
  errors: true,
};

describe("the client package's protocol copy", () => {
  it('is type-compatible with src/task-status/protocol.ts (checked at compile time)', () => {
    assert.ok(Object.values(compatible).every((check) => check));
  });

  it('has the same task id rule', () => {
    assert.equal(client.TASK_ID_PATTERN.source, server.TASK_ID_PATTERN.source);
    assert.equal(client.TASK_ID_PATTERN.flags, server.TASK_ID_PATTERN.flags);
    assert.equal(client.TASK_ID_MAX_LENGTH, server.TASK_ID_MAX_LENGTH);
  });

  it('has the same close codes', () => {
    assert.deepEqual(client.CloseCode, server.CloseCode);
  });
});
