import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ProtocolErrorException } from './protocol-error.exception.js';

function describe(errors: ValidationError[]): { field: string; message: string } {
  const first = errors[0];
  const reasons = Object.values(first?.constraints ?? {});
  return {
    field: first?.property ?? 'message',
    message: reasons[0] ?? `${first?.property ?? 'message'} is invalid`,
  };
}

/** Validates inbound WebSocket messages against their DTOs and reports `invalid_message`. */
export function createWsValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    transform: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    exceptionFactory: (errors) => {
      const { field, message } = describe(errors);
      return new ProtocolErrorException('invalid_message', message, { field });
    },
  });
}
