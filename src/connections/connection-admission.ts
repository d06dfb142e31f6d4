export type RefusalReason = 'limit' | 'origin' | 'shutting_down' | 'auth' | 'per_ip';

/**
 * Whether new connections are let in, and how many were turned away and why. Closed once, when
 * shutdown begins, so readiness and the upgrade check read the same flag.
 */
export class ConnectionAdmission {
  private open = true;
  readonly refused: Record<RefusalReason, number> = {
    limit: 0,
    origin: 0,
    shutting_down: 0,
    auth: 0,
    per_ip: 0,
  };

  get accepting(): boolean {
    return this.open;
  }

  close(): void {
    this.open = false;
  }

  countRefusal(reason: RefusalReason): void {
    this.refused[reason] += 1;
  }
}
