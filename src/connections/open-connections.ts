/** The transports a client may connect over; a label in stats and metrics. */
export const TRANSPORTS = ['websocket', 'sse'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/**
 * How many connections each transport holds open, as each transport counts them (ws' clients,
 * the open event streams): read for the connection limit, which covers all transports together,
 * and for the stats.
 */
export class OpenConnections {
  private readonly counts = new Map<Transport, () => number>();

  /** A transport tells how to count its open connections. */
  count(transport: Transport, count: () => number): void {
    this.counts.set(transport, count);
  }

  /** Open connections of one transport, or of all when none is named. */
  of(transport?: Transport): number {
    if (transport !== undefined) return this.counts.get(transport)?.() ?? 0;
    let total = 0;
    for (const count of this.counts.values()) total += count();
    return total;
  }
}
