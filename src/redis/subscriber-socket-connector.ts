import type { RedisOptions, StandaloneConnectionOptions } from 'ioredis';
import { StandaloneConnector } from 'ioredis/built/connectors/index.js';
import { createConnection, type Socket, type TcpNetConnectOpts } from 'node:net';
import { SubscriberPushReader, type PushDropper } from './subscriber-push-reader.js';

/** What ioredis' `Connector` option takes: a class it constructs with the connection's options. */
export type ConnectorOption = NonNullable<RedisOptions['Connector']>;

/** One read's room; the kernel hands over at most this much per read, as Node's default does. */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Opens the subscriber connection's plain-TCP socket with net's `onread`: every read lands in
 * one reused buffer and goes straight to a SubscriberPushReader, without a fresh 64 KiB buffer,
 * Readable.push and a 'data' event per read (most reads carry only pushes that are dropped).
 * The reader emits what ioredis must see as the socket's 'data'. TLS (tls.connect has no
 * `onread`) and unix sockets keep ioredis' own connector; SubscriberPushReader.attach reads those.
 */
export class SubscriberSocketConnector extends StandaloneConnector {
  private readonly buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  constructor(
    options: StandaloneConnectionOptions,
    private readonly drop: PushDropper,
  ) {
    super(options);
  }

  /** The `Connector` option for a connection whose unwatched pushes `drop` refuses. */
  static dropping(drop: PushDropper): ConnectorOption {
    return class extends SubscriberSocketConnector {
      constructor(options: unknown) {
        super(options as StandaloneConnectionOptions, drop);
      }
    };
  }

  override connect(onError: (type: string, error: Error) => void): Promise<Socket> {
    const { tls, path, host, port, family } = this.options;
    if (tls || path) return super.connect(onError);
    this.connecting = true;
    return new Promise((resolve, reject) => {
      // As ioredis' own connector: a disconnect() before the next tick cancels the connect.
      process.nextTick(() => {
        if (!this.connecting) {
          reject(new Error('Connection is closed.'));
          return;
        }
        let socket: Socket;
        try {
          socket = this.open({
            port: port ?? 6379,
            ...(host != null ? { host } : {}),
            ...(family != null ? { family } : {}),
          });
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        this.stream = socket;
        socket.once('error', (error: Error) => {
          this.firstError = error;
        });
        resolve(socket);
      });
    });
  }

  private open(address: TcpNetConnectOpts): Socket {
    const socket = createConnection({
      ...address,
      // The reader is done with the buffer when the callback returns: the next read reuses it.
      onread: {
        buffer: this.buffer,
        callback: (length) => {
          reader.read(this.buffer.subarray(0, length));
          return true;
        },
      },
    });
    // Set before the socket connects, so before its first read.
    const reader = SubscriberPushReader.reading(socket, this.drop);
    return socket;
  }
}
