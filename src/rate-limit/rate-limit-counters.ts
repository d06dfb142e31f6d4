/** What the per-connection message rate limit did, for /ws/stats and /metrics. */
export class RateLimitCounters {
  /** Messages (and protocol pings) that arrived over their connection's rate and were not read. */
  messagesLimited = 0;
  /** Connections closed with 1008 for sustained abuse. */
  connectionsClosed = 0;
}
