import { redisErrorMessage } from './redis-error-message.js';

export type RedisLinkState = 'connecting' | 'subscribed' | 'disconnected' | 'closed';

/**
 * One Redis Cluster primary as the subscriber sees it: `subscribed` (every shard channel of its
 * slots confirmed), `resubscribing` (its slots changed hands or its connection came back, and
 * the SSUBSCRIBEs are not all confirmed yet), `down` (its sharded subscriber connection was
 * lost and nothing has been confirmed on it since) or `idle` (no channel of this instance, not
 * even a canary, lives there, so there is nothing to subscribe).
 */
export type RedisNodeState = 'subscribed' | 'resubscribing' | 'down' | 'idle';

export interface RedisNodeStatus {
  state: RedisNodeState;
  /** False while this node's canary is overdue. */
  dataPathHealthy: boolean;
  canaryRoundTripMs: number | undefined;
}

/**
 * The subscriber connection's state as health and stats need it: "up" means connected and
 * subscribed to the channel, the only state in which updates can arrive.
 */
export class RedisSubscriptionStatus {
  private current: RedisLinkState = 'connecting';
  private since = Date.now();
  private error: string | undefined;
  private reconnects = 0;
  private everSubscribed = false;
  private stalled = false;
  private canaryRtt: number | undefined;
  private canaryAt: number | undefined;
  /** Per primary (`host:port`), on a Redis Cluster only; empty on a single Redis. */
  private readonly nodeStates = new Map<string, RedisNodeStatus>();

  get state(): RedisLinkState {
    return this.current;
  }

  get isUp(): boolean {
    return this.current === 'subscribed';
  }

  /** The primaries of a Redis Cluster by `host:port`; empty on a single Redis. */
  get nodes(): ReadonlyMap<string, Readonly<RedisNodeStatus>> {
    return this.nodeStates;
  }

  /** Every known primary subscribed and proving its data path (true when there are none). */
  get nodesHealthy(): boolean {
    for (const node of this.nodeStates.values()) {
      if (node.state === 'resubscribing' || node.state === 'down' || !node.dataPathHealthy) {
        return false;
      }
    }
    return true;
  }

  /** Sets the primaries to exactly `nodes` (a failed-over one goes, its replica comes). */
  setNodes(nodes: Iterable<string>): void {
    const keep = new Set(nodes);
    for (const node of this.nodeStates.keys()) if (!keep.has(node)) this.nodeStates.delete(node);
    for (const node of keep) this.node(node);
  }

  markNode(node: string, state: RedisNodeState): void {
    this.node(node).state = state;
  }

  recordNodeCanary(node: string, roundTripMs: number, at = Date.now()): void {
    const status = this.node(node);
    status.canaryRoundTripMs = roundTripMs;
    status.dataPathHealthy = true;
    this.recordCanary(roundTripMs, at);
  }

  markNodeStalled(node: string): void {
    this.node(node).dataPathHealthy = false;
    this.markDataPathStalled();
  }

  /** The connection to the whole cluster is gone: so are the nodes' subscriptions. */
  clearNodes(): void {
    this.nodeStates.clear();
  }

  get lastError(): string | undefined {
    return this.error;
  }

  get stateSince(): number {
    return this.since;
  }

  /** Number of times the subscription was re-established after being lost. */
  get resubscriptions(): number {
    return this.reconnects;
  }

  markSubscribed(): void {
    if (this.current === 'subscribed') return;
    if (this.everSubscribed) this.reconnects += 1;
    this.everSubscribed = true;
    this.set('subscribed');
  }

  /**
   * False while the data-path canary is overdue: connected and subscribed, yet messages on the
   * channel do not come back (a wedged subscription).
   */
  get dataPathHealthy(): boolean {
    return !this.stalled;
  }

  /** Round trip of the last canary through Redis, in milliseconds. */
  get canaryRoundTripMs(): number | undefined {
    return this.canaryRtt;
  }

  get lastCanaryAt(): number | undefined {
    return this.canaryAt;
  }

  recordCanary(roundTripMs: number, at = Date.now()): void {
    this.canaryRtt = roundTripMs;
    this.canaryAt = at;
    // On a cluster the data path is healthy again only when no primary's canary is overdue.
    this.stalled = [...this.nodeStates.values()].some((node) => !node.dataPathHealthy);
  }

  markDataPathStalled(): void {
    this.stalled = true;
  }

  recordError(error: Error): void {
    this.error = redisErrorMessage(error);
  }

  markDisconnected(): void {
    if (this.current === 'subscribed' || this.current === 'connecting') this.set('disconnected');
  }

  markClosed(): void {
    this.set('closed');
  }

  private node(node: string): RedisNodeStatus {
    let status = this.nodeStates.get(node);
    if (!status) {
      status = { state: 'resubscribing', dataPathHealthy: true, canaryRoundTripMs: undefined };
      this.nodeStates.set(node, status);
    }
    return status;
  }

  private set(state: RedisLinkState): void {
    if (state === this.current) return;
    this.current = state;
    this.since = Date.now();
  }
}
