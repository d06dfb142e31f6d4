import { registerAs } from '@nestjs/config';
import type { DemoOptions } from '../demo/demo-options.js';
import { environment } from './environment.js';

export const demoConfig = registerAs('demo', (): DemoOptions => {
  const env = environment();
  return { page: env.DEMO_PAGE, publishEnabled: env.DEMO_PUBLISH_ENABLED };
});
