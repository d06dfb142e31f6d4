import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from './with-timeout.js';

/** A reason to skip tests that run nginx, or false when an `nginx` binary is on the PATH. */
export const NGINX_MISSING: string | false =
  spawnSync('nginx', ['-v'], { stdio: 'ignore' }).error !== undefined &&
  'nginx is not installed (the proxy test runs the deploy/ config under a local nginx)';

/**
 * The directives of the block opened by `header` (e.g. `location /tasks/`) in an nginx config,
 * by name, each with its arguments; nested blocks are skipped. Enough for the repository's own
 * config (no quoted braces or semicolons).
 */
export function nginxDirectives(config: string, header: string): Map<string, string[][]> {
  const text = config.replace(/#[^\n]*/g, '');
  const start = text.indexOf(`${header} {`);
  if (start === -1) throw new Error(`no "${header} {" block`);
  let depth = 0;
  let body = '';
  for (let index = text.indexOf('{', start); index < text.length; index += 1) {
    const char = text[index];
    if (char === '{') depth += 1;
    if (char === '}') depth -= 1;
    if (depth === 0) break;
    if (depth === 1 && char !== '{') body += char;
  }
  const directives = new Map<string, string[][]>();
  for (const statement of body.split(';')) {
    const [name, ...args] = statement.trim().split(/\s+/);
    if (!name) continue;
    directives.set(name, [...(directives.get(name) ?? []), args]);
  }
  return directives;
}

/**
 * deploy/nginx/nginx.conf adapted to run as a test's own process: on a loopback port, in front
 * of one gateway (an address, so no resolver; the `$gateway` map's default), with logs, pid and
 * temp files in a temp folder. Throws when the config no longer has what it adapts.
 */
export function localNginxConfig(config: string, port: number, gatewayUrl: string, dir: string) {
  for (const expected of [/listen 80;/, /default\s+http:\/\/websocket:8001;/]) {
    if (!expected.test(config)) throw new Error(`deploy/nginx/nginx.conf lacks ${expected}`);
  }
  return (
    config
      .replace(/^\s*resolver[^;]*;/gm, '')
      .replace(/access_log [^;]*;/, `access_log ${join(dir, 'access.log')};`)
      .replace(/error_log [^;]*;/, `error_log ${join(dir, 'error.log')} warn;`)
      .replace(/worker_processes [^;]*;/, 'worker_processes 1;')
      .replace(/listen 80;/, `listen 127.0.0.1:${port};`)
      // The second port serves the compose `cluster` profile's gateways: not this test's.
      .replace(/^\s*listen 81;\n/m, '')
      .replace(/default\s+http:\/\/websocket:8001;/, `default ${gatewayUrl};`)
      .replace(
        /http \{/,
        `http {\n    ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
          .map((kind) => `${kind}_temp_path ${join(dir, kind)};`)
          .join('\n    ')}`,
      )
  );
}

/** An nginx of the test's own, stopped by stop(); only this process is ever signalled. */
export class NginxProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(config: string, port: number, gatewayUrl: string): Promise<NginxProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'nginx-'));
    const file = join(dir, 'nginx.conf');
    writeFileSync(file, localNginxConfig(config, port, gatewayUrl, dir));
    const child = spawn(
      'nginx',
      [
        '-p',
        dir,
        '-e',
        join(dir, 'error.log'),
        '-c',
        file,
        '-g',
        `daemon off; pid ${join(dir, 'nginx.pid')};`,
      ],
      { stdio: 'ignore' },
    );
    const nginx = new NginxProcess(child, dir);
    await waitUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}`);
        return fetch(`http://127.0.0.1:${port}/health/live`).then(
          () => true,
          () => false,
        );
      },
      10_000,
      'nginx to listen',
    );
    return nginx;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGQUIT');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
