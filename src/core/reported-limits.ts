/**
 * The limits this application enforces, as `/ws/stats` reports them. The core adds its own; a
 * transport module adds those it enforces, so the report follows what is actually imported.
 */
export class ReportedLimits {
  private readonly values: Record<string, number> = {};

  set(name: string, value: number): void {
    this.values[name] = value;
  }

  snapshot(): Record<string, number> {
    return { ...this.values };
  }
}
