import { Module } from '@nestjs/common';
import { DemoAssets } from './demo-assets.js';
import { DEMO_OPTIONS, resolveDemoOptions, type DemoOptions } from './demo-options.js';
import { DemoPageController } from './demo-page.controller.js';
import { DemoSimulationController } from './demo-simulation.controller.js';
import { DemoTaskSimulator } from './demo-task-simulator.js';
import {
  TASK_STATUS_DEMO_MODULE_OPTIONS,
  TaskStatusDemoConfigurableModule,
} from './task-status-demo.module-definition.js';

/**
 * The demo page at `/`, the typed client's browser modules at `/client/`, and (development only)
 * `POST /demo/simulate`. Nothing of it exists in an application that does not import it.
 */
@Module({
  controllers: [DemoPageController, DemoSimulationController],
  providers: [
    {
      provide: DEMO_OPTIONS,
      inject: [TASK_STATUS_DEMO_MODULE_OPTIONS],
      useFactory: (options: DemoOptions) => resolveDemoOptions(options),
    },
    DemoAssets,
    DemoTaskSimulator,
  ],
})
export class TaskStatusDemoModule extends TaskStatusDemoConfigurableModule {}
