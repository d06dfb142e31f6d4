import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { GatewayOptions } from './gateway-options.js';

export const {
  ConfigurableModuleClass: TaskStatusGatewayConfigurableModule,
  MODULE_OPTIONS_TOKEN: TASK_STATUS_GATEWAY_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<GatewayOptions>().setClassMethodName('forRoot').build();
