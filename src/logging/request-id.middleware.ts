import { Logger } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { logContext } from './log-context.js';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * What an incoming id may look like to be kept: the characters of UUIDs, ULIDs, hex and base64
 * ids, at most 128 of them. Anything else (spaces, quotes, control characters that could forge
 * log lines, very long values) is replaced by a fresh UUID.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_.:=+/@-]{1,128}$/;

export function acceptRequestId(incoming: string | string[] | undefined): string {
  const candidate = Array.isArray(incoming) ? incoming[0] : incoming;
  return candidate !== undefined && REQUEST_ID_PATTERN.test(candidate) ? candidate : randomUUID();
}

/**
 * Gives every HTTP request an id (the caller's X-Request-Id when it is sane), echoes it in the
 * response, runs the request inside a log context carrying it, and logs the request at debug
 * level. The path is logged without its query string, which may carry credentials.
 */
export function requestIdMiddleware(): (
  request: Request,
  response: Response,
  next: NextFunction,
) => void {
  const logger = new Logger('HTTP');
  return (request, response, next) => {
    const requestId = acceptRequestId(request.headers['x-request-id']);
    const startedAt = performance.now();
    response.setHeader(REQUEST_ID_HEADER, requestId);
    // Only when the line would be written: a stream of events keeps its listener for hours.
    // `on`, not `once`: a response finishes once, and once's wrapper is two objects more.
    if (Logger.isLevelEnabled('debug')) {
      response.on('finish', () => {
        const path = request.originalUrl.split('?', 1)[0].slice(0, 256);
        const ms = (performance.now() - startedAt).toFixed(1);
        logger.debug(`${request.method} ${path} ${response.statusCode} ${ms} ms`, {
          request_id: requestId,
        });
      });
    }
    logContext.run({ request_id: requestId }, next);
  };
}
