import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { ConfigType } from '@nestjs/config';
import { setupApiDocs } from './api-docs/setup-api-docs.js';
import { appConfig } from './config/app.config.js';
import { environment } from './config/environment.js';
import { GATEWAY_OPTIONS, type ResolvedGatewayOptions } from './inbound/gateway-options.js';
import { InvalidEnvironmentError } from './config/parse-environment.js';
import { createAppLogger } from './logging/create-app-logger.js';
import { configureApplication } from './configure-application.js';
import { ConnectionAdmission } from './connections/connection-admission.js';

async function bootstrap(): Promise<void> {
  const bootEnv = environment();
  // Parsed and validated above, once: a bad value has ended the boot with one clear message
  // before any module is loaded, and every config namespace reads that same result.
  const { AppModule } = await import('./app.module.js');
  const app = await NestFactory.create(AppModule.forRoot(), {
    logger: createAppLogger(bootEnv.LOG_LEVEL, bootEnv.LOG_FORMAT),
    abortOnError: false,
  });
  const config = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  const logger = createAppLogger(config.logLevel, config.logFormat);
  app.useLogger(logger);
  configureApplication(app);
  const { shutdownTimeoutMs } = app.get<ResolvedGatewayOptions>(GATEWAY_OPTIONS);
  if (config.apiDocsEnabled) setupApiDocs(app);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    // A repeated signal (Ctrl+C twice, a second SIGTERM) must not cut the drain short; the
    // deadline below bounds it instead.
    if (stopping) {
      logger.warn(`${signal} received again; shutdown already in progress`, 'Bootstrap');
      return;
    }
    stopping = true;
    logger.log(`${signal} received; shutting down`, 'Bootstrap');
    // Readiness turns 503 and new upgrades are refused before anything else happens.
    app.get(ConnectionAdmission).close();
    const deadline = setTimeout(() => {
      logger.error(`Shutdown did not finish within ${shutdownTimeoutMs} ms`, 'Bootstrap');
      process.exit(1);
    }, shutdownTimeoutMs);
    deadline.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`Shutdown failed: ${String(error)}`, 'Bootstrap');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  await app.listen(config.port, config.host);
  logger.log(`Listening on http://${config.host}:${config.port} (WebSocket path /ws)`, 'Bootstrap');
}

bootstrap().catch((error: unknown) => {
  if (error instanceof InvalidEnvironmentError) {
    console.error(error.message);
  } else {
    console.error('Failed to start:', error);
  }
  process.exit(1);
});
