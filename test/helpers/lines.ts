/** JSON log lines collected as they come, with a way to await one. */
export class LogLines {
  readonly lines: Array<Record<string, unknown>> = [];
  private waiters: Array<{ match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void; reject: (e: Error) => void }> = [];
  private closedWith: Error | undefined;

  push(text: string): void {
    const line = JSON.parse(text) as Record<string, unknown>;
    this.lines.push(line);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].match(line)) {
        this.waiters[i].resolve(line);
        this.waiters.splice(i, 1);
      }
    }
  }

  /** No more lines will come: pending and later waits fail with `reason`. */
  close(reason: Error): void {
    this.closedWith = reason;
    for (const w of this.waiters.splice(0)) w.reject(reason);
  }

  /** Resolves with the first line matching, waiting for it if needed. */
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const found = this.lines.find(match);
    if (found) return Promise.resolve(found);
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => this.waiters.push({ match, resolve, reject }));
  }
}
