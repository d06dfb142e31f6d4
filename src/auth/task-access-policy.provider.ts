import type {
  FactoryProvider,
  InjectionToken,
  OptionalFactoryDependency,
  Provider,
  Type,
} from '@nestjs/common';
import { ClaimTaskAccessPolicy } from './claim-task-access-policy.js';
import { TaskAccessPolicy } from './task-access-policy.js';

/**
 * How an application supplies its own policy: a class (instantiated by Nest, so it can inject
 * what the module can see: its exports, and the modules of `forRootAsync({ imports })`), or a
 * factory with its `inject` list.
 */
export type TaskAccessPolicyOption =
  | Type<TaskAccessPolicy>
  | {
      useFactory: (...dependencies: never[]) => TaskAccessPolicy | Promise<TaskAccessPolicy>;
      inject?: Array<InjectionToken | OptionalFactoryDependency>;
    };

export function taskAccessPolicyProvider(option?: TaskAccessPolicyOption): Provider {
  if (option === undefined) return { provide: TaskAccessPolicy, useClass: ClaimTaskAccessPolicy };
  if (typeof option === 'function') return { provide: TaskAccessPolicy, useClass: option };
  return {
    provide: TaskAccessPolicy,
    useFactory: option.useFactory as FactoryProvider['useFactory'],
    inject: option.inject ?? [],
  };
}
