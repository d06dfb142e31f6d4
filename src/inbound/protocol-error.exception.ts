import { WsException } from '@nestjs/websockets';
import type { ErrorCode, ErrorMessage } from '@task-status/client/protocol';

/** A protocol error the client can act on; the exception filter writes it as an `error` frame. */
export class ProtocolErrorException extends WsException {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Pick<ErrorMessage, 'task_id' | 'group' | 'field'> = {},
  ) {
    super(message);
  }

  toMessage(): ErrorMessage {
    return { type: 'error', code: this.code, message: this.message, ...this.details };
  }
}
