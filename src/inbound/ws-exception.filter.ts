import { ArgumentsHost, Catch, Logger, type ExceptionFilter } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { ErrorMessage } from '@task-status/client/protocol';
import { WebSocket } from 'ws';
import { ProtocolErrorException } from './protocol-error.exception.js';

/**
 * Writes every exception from a message handler as the protocol's `error` frame. Nest's default
 * WebSocket error format differs and has changed between versions, so the protocol owns this.
 */
@Catch()
export class WsExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(WsExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const client = host.switchToWs().getClient<WebSocket>();
    if (client.readyState !== WebSocket.OPEN) return;
    client.send(JSON.stringify(this.toMessage(exception)));
  }

  private toMessage(exception: unknown): ErrorMessage {
    if (exception instanceof ProtocolErrorException) return exception.toMessage();
    if (exception instanceof WsException) {
      return { type: 'error', code: 'invalid_message', message: exception.message };
    }
    this.logger.error(
      exception instanceof Error ? (exception.stack ?? exception.message) : exception,
    );
    return { type: 'error', code: 'internal_error', message: 'Internal server error' };
  }
}
