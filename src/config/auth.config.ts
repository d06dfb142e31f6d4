import { registerAs } from '@nestjs/config';
import type { TaskStatusAuthOptions } from '../auth/auth-options.js';
import { authOptionsFromEnvironment } from './auth-environment.js';
import { environment } from './environment.js';

export const authConfig = registerAs('auth', (): TaskStatusAuthOptions =>
  authOptionsFromEnvironment(environment()),
);
