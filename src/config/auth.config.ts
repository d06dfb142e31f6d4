import { registerAs } from '@nestjs/config';
import { authOptionsFromEnvironment } from './auth-environment.js';
import { parseEnvironment } from './parse-environment.js';

export const authConfig = registerAs('auth', () =>
  authOptionsFromEnvironment(parseEnvironment(process.env)),
);
