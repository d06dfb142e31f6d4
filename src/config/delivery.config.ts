import { registerAs } from '@nestjs/config';
import type { DeliveryOptions } from '../outbound/delivery-options.js';
import type { EnvironmentVariables } from './environment-variables.js';
import { environment } from './environment.js';

/** The options as the environment sets them; unset variables stay undefined (the module's default). */
export function deliveryOptionsFromEnvironment(env: EnvironmentVariables): DeliveryOptions {
  return {
    backpressureBytes: env.WS_BACKPRESSURE_BYTES,
    slowClientMaxBytes: env.WS_SLOW_CLIENT_MAX_BYTES,
    slowClientStallMs: env.WS_SLOW_CLIENT_STALL_MS,
  };
}

export const deliveryConfig = registerAs('delivery', () =>
  deliveryOptionsFromEnvironment(environment()),
);
