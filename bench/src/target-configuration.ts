import { join, relative } from 'node:path';
import { pinnedCommand } from './cpu-pinning.js';
import { targetEnvironment, type TargetDefinition } from './target-process.js';

/** Stand for what each start of a target picks afresh: a free port, a new temporary directory. */
export const PORT_PLACEHOLDER = '<port>';
export const WORK_DIR_PLACEHOLDER = '<work dir>';

/**
 * How a target is started, exactly as the bench starts it every time, so that a figure can name
 * the configuration that produced it. `<port>` and `<work dir>` stand for what each start picks.
 */
export interface TargetConfiguration {
  /** The command line as spawned, the CPU pinning (taskset) included. */
  command: string[];
  /** Its working directory: a new empty one per start (no `.env` is read). */
  cwd: string;
  /** Every environment variable it gets; nothing else is inherited. */
  env: Record<string, string>;
  /** The CPUs it is pinned to (taskset list); absent when not pinned. */
  cpus?: string;
  /** Files written into its working directory before each start (nchan's nginx.conf). */
  files: { path: string; text: string }[];
  /** BENCH_GATEWAY_ENV as given, when it added to `env`. */
  benchGatewayEnv?: string;
}

export function targetConfiguration(
  definition: TargetDefinition,
  options: { redisUrl: string; channel: string; cpus: string | undefined },
): TargetConfiguration {
  const [program, args] = definition.command(WORK_DIR_PLACEHOLDER);
  const [command, commandArgs] = pinnedCommand(program, args, options.cpus);
  const env = targetEnvironment(definition, PORT_PLACEHOLDER, options.redisUrl, options.channel);
  return {
    command: [command, ...commandArgs].map(portableWord),
    cwd: WORK_DIR_PLACEHOLDER,
    // The search path only finds programs; its value says nothing about the configuration.
    env: { ...env, ...(env.PATH === undefined ? {} : { PATH: INHERITED_PATH }) },
    ...(options.cpus === undefined ? {} : { cpus: options.cpus }),
    files: definition
      .files(PORT_PLACEHOLDER, WORK_DIR_PLACEHOLDER)
      .map((file) => ({ path: join(WORK_DIR_PLACEHOLDER, file.name), text: file.text })),
    ...(definition.benchGatewayEnv === undefined
      ? {}
      : { benchGatewayEnv: definition.benchGatewayEnv }),
  };
}

const INHERITED_PATH = "<the bench's PATH>";

/** This Node as `node`, and files of the repository by their path in it, as a reader runs them. */
function portableWord(word: string): string {
  if (word === process.execPath) return 'node';
  return word.startsWith(`${process.cwd()}/`) ? relative(process.cwd(), word) : word;
}

/** A word as a shell would need it, placeholders left as they are. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./<>-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The configuration as the bench prints it before measuring. */
export function describeConfiguration(name: string, configuration: TargetConfiguration): string {
  const lines = [
    `target ${name}:`,
    `  command: ${configuration.command.map(shellWord).join(' ')}`,
    `  working directory: ${configuration.cwd} (a new empty temporary directory per start)`,
    '  environment (nothing else inherited):',
    ...Object.entries(configuration.env).map(([key, value]) => `    ${key}=${shellWord(value)}`),
    `  CPUs: ${configuration.cpus === undefined ? 'not pinned' : `${configuration.cpus} (taskset)`}`,
  ];
  if (configuration.benchGatewayEnv !== undefined) {
    lines.push(`  from BENCH_GATEWAY_ENV: ${configuration.benchGatewayEnv}`);
  }
  for (const file of configuration.files) {
    lines.push(
      `  ${file.path}:`,
      ...file.text
        .trimEnd()
        .split('\n')
        .map((line) => `    ${line}`),
    );
  }
  return lines.join('\n');
}
