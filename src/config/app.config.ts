import { registerAs } from '@nestjs/config';
import { environment } from './environment.js';

/** The standalone service itself: where it listens, how it logs, which feature modules it loads. */
export const appConfig = registerAs('app', () => {
  const env = environment();
  return {
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    apiDocsEnabled: env.API_DOCS_ENABLED,
    metricsEnabled: env.METRICS_ENABLED,
    demoPage: env.DEMO_PAGE,
  };
});
