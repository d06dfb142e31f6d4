/**
 * The options with every unset field taken from `defaults`. An explicit `undefined` counts as
 * unset, so a config namespace can pass an unset variable through as it is.
 */
export function applyDefaults<T extends object>(
  defaults: Required<T>,
  options: T | undefined,
): Required<T> {
  const resolved = { ...defaults };
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value !== undefined) (resolved as Record<string, unknown>)[key] = value;
  }
  return resolved;
}
