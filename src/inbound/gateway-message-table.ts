import type { INestApplicationContext, Type } from '@nestjs/common';
import { MetadataScanner } from '@nestjs/core';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { GatewayMetadataExplorer } from '@nestjs/websockets/gateway-metadata-explorer.js';

/**
 * A handler of one message type as Nest's WebSocket context creator builds it (pipes, guards,
 * interceptors and exception filters of the gateway included): the client first, then the
 * message and its type.
 */
export type GatewayMessageHandler = (client: unknown, message: unknown, type: string) => unknown;

/** The parts of Nest's application that build its handlers: not public API, checked at build. */
interface NestApplicationInternals {
  container?: {
    getModules(): Map<
      string,
      { providers: Map<unknown, { instance: unknown; isDependencyTreeStatic(): boolean }> }
    >;
  };
  socketModule?: {
    webSocketsController?: {
      contextCreator?: {
        create(
          instance: object,
          callback: (...args: unknown[]) => unknown,
          moduleKey: string,
          methodName: string,
        ): GatewayMessageHandler;
      };
    };
  };
}

/**
 * A gateway's @SubscribeMessage handlers, built once with Nest's own context creator, so that a
 * connection's messages are routed by type from one shared table. Nest itself binds a copy of
 * every handler to each connection (docs/benchmarks.md, S1: most of an idle connection's heap
 * beyond ws' own). Built when the first connection opens, when Nest's WebSocket layer is set up.
 */
export class GatewayMessageTable {
  /** The message types, in the gateway's order, as the `unknown_type` error lists them. */
  readonly names: string;

  private constructor(private readonly handlers: ReadonlyMap<string, GatewayMessageHandler>) {
    this.names = [...handlers.keys()].join(', ');
  }

  /**
   * The table of `gateway`'s handlers in `app`, or undefined where Nest's internals are not as
   * expected, or the gateway is not a singleton (then Nest's per-connection handlers are used).
   */
  static build(app: INestApplicationContext, gateway: Type): GatewayMessageTable | undefined {
    const internals = app as unknown as NestApplicationInternals;
    const contextCreator = internals.socketModule?.webSocketsController?.contextCreator;
    const modules = internals.container?.getModules();
    if (!contextCreator || !modules) return undefined;
    for (const [moduleKey, module] of modules) {
      const wrapper = module.providers.get(gateway);
      if (!wrapper) continue;
      if (!wrapper.isDependencyTreeStatic() || typeof wrapper.instance !== 'object')
        return undefined;
      const instance = wrapper.instance as object;
      const handlers = new Map<string, GatewayMessageHandler>();
      for (const { message, methodName, callback } of new GatewayMetadataExplorer(
        new MetadataScanner(),
      ).explore(instance)) {
        handlers.set(
          String(message),
          contextCreator.create(instance, callback, moduleKey, methodName),
        );
      }
      return new GatewayMessageTable(handlers);
    }
    return undefined;
  }

  handlerFor(type: string): GatewayMessageHandler | undefined {
    return this.handlers.get(type);
  }

  /** Whether Nest's handlers for a connection are this table's: the same types, in order. */
  matches(handlers: readonly MessageMappingProperties[]): boolean {
    return handlers.map((handler) => String(handler.message)).join(', ') === this.names;
  }
}
