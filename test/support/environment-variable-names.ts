import { getMetadataStorage } from 'class-validator';
import { EnvironmentVariables } from '../../src/config/environment-variables.js';

/** Every variable the service reads: the defaults of EnvironmentVariables plus optional ones. */
export function environmentVariableNames(): Set<string> {
  const withDefaults = Object.keys(new EnvironmentVariables());
  const validated = getMetadataStorage()
    .getTargetValidationMetadatas(EnvironmentVariables, '', true, false)
    .map((metadata) => metadata.propertyName);
  return new Set([...withDefaults, ...validated]);
}
