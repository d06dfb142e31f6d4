import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { HttpPublisher } from './http-publisher.js';
import { LatencyHistogram } from './latency-histogram.js';
import { DeliveryTally, LeanConnection } from './lean-ws-client.js';
import { pollUntil } from './timeouts.js';

/** Where Debian's libnginx-mod-nchan puts the module. */
export const NCHAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';
export const NCHAN_INSTALL_HINT = 'sudo apt-get install -y nginx libnginx-mod-nchan';

/**
 * Per channel (task), the messages nchan keeps and for how long. nchan's defaults (10 messages
 * for an hour) would hold every update of S5's tens of thousands of unwatched channels, a store
 * that grows through the run; the other targets keep nothing. One message, not 0: nchan warns
 * that without a buffer a fast publisher may make subscribers miss messages.
 */
export const NCHAN_MESSAGE_BUFFER_LENGTH = 1;
export const NCHAN_MESSAGE_TIMEOUT = '10s';

/** `nginx` from PATH, or from the sbin directories a non-root PATH often lacks. */
export function nginxBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs.filter((d) => d !== '')) {
    const candidate = join(dir, 'nginx');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why the nchan target cannot run here, or undefined when nginx and the module are installed. */
export function nchanMissing(): string | undefined {
  const nginx = nginxBinary() !== undefined;
  const nchan = existsSync(NCHAN_MODULE);
  if (nginx && nchan) return undefined;
  const what =
    !nginx && !nchan
      ? 'nginx and libnginx-mod-nchan are not installed here'
      : nginx
        ? `libnginx-mod-nchan is not installed here (no ${NCHAN_MODULE})`
        : 'nginx is not installed here';
  return `${what}; install with ${NCHAN_INSTALL_HINT}`;
}

/** "nginx 1.22.1, libnginx-mod-nchan 1:1.3.6+dfsg-2" as installed, as far as it can be told. */
export function nchanVersions(): string {
  const nginx = nginxBinary();
  // nginx -v writes its version to stderr.
  const version = nginx ? spawnSync(nginx, ['-v'], { encoding: 'utf8' }) : undefined;
  const nginxVersion = /nginx\/(\S+)/.exec(`${version?.stdout}${version?.stderr}`)?.[1] ?? '?';
  const dpkg = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'libnginx-mod-nchan'], {
    encoding: 'utf8',
  });
  const nchanVersion = dpkg.status === 0 && dpkg.stdout.trim() !== '' ? dpkg.stdout.trim() : '?';
  return `nginx ${nginxVersion}, libnginx-mod-nchan ${nchanVersion}`;
}

/**
 * nginx.conf for one nchan target, to be written into `dir`, which holds everything nginx writes (pid,
 * temp paths); the error log goes to stderr, which the bench keeps like the other targets'
 * output. One process (`master_process off`): the bench starts, pins, measures and kills it like
 * the Node targets' single process. nchan's in-memory store, no Redis: its fastest mode.
 */
export function nchanConfig(dir: string, port: string, maxConnections: number): string {
  return `# Written by the bench (bench/src/nchan-target.ts) for one run of the nchan target.
load_module ${NCHAN_MODULE};
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;

events {
  worker_connections ${maxConnections + 1000};
}

http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # Every update in memory: a body larger than the buffer goes to a temp file, and nchan would
  # then store the message in files under its built-in path (/var/lib/nginx/body), as this
  # version refuses nchan_message_temp_path ("is duplicate").
  client_body_buffer_size 1m;
  client_max_body_size 1m;
  # nginx closes a keep-alive connection after 1,000 requests by default: the publisher's
  # pipelined connections would be cut mid-run.
  keepalive_requests 1000000000;

  server {
    listen 127.0.0.1:${port};

    location ~ ^/sub/([^/]+)$ {
      nchan_subscriber websocket;
      nchan_channel_id $1;
      # Only updates published after the subscription, as the other targets send.
      nchan_subscriber_first_message newest;
    }

    location ~ ^/pub/([^/]+)$ {
      nchan_publisher http;
      nchan_channel_id $1;
      nchan_message_buffer_length ${NCHAN_MESSAGE_BUFFER_LENGTH};
      nchan_message_timeout ${NCHAN_MESSAGE_TIMEOUT};
    }
  }
}
`;
}

let probes = 0;

/**
 * One update through the started nchan: a WebSocket subscriber on a channel of its own, a POST
 * to that channel, the frame received. Proves the config, the publisher and the client dialect.
 */
export async function nchanRoundTrip(port: number, timeoutMs: number): Promise<boolean> {
  probes += 1;
  const taskId = `bench-ready-${process.pid}-${probes}`;
  const tally = new DeliveryTally(new LatencyHistogram());
  const subscriber = new LeanConnection(
    { host: '127.0.0.1', port, dialect: 'nchan' },
    taskId,
    tally,
  );
  let publisher: HttpPublisher | undefined;
  try {
    await subscriber.open(timeoutMs);
    publisher = await HttpPublisher.connect(port, 1);
    publisher.publish(`{"task_id":"${taskId}","seq":1,"sent_at_us":0}`);
    await publisher.settled(timeoutMs);
    return (
      publisher.withSubscribers === 1 && (await pollUntil(() => tally.frames === 1, timeoutMs))
    );
  } catch {
    return false;
  } finally {
    publisher?.close();
    subscriber.close();
  }
}
