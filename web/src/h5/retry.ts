/** One Idempotency-Key per logical write: a retry of the same body (a lost answer, a double tap)
 * reuses the key, so the API answers as it did the first time; a changed body is a new write with
 * a new key (the API refuses a reused key with another body: `idempotency_key_reused`). */
import { newIdempotencyKey } from "../lib/api";

export class WriteKeys {
  private body: string | null = null;
  private key = "";

  constructor(private readonly fresh: () => string = newIdempotencyKey) {}

  keyFor(body: unknown): string {
    const text = JSON.stringify(body);
    if (text !== this.body) {
      this.body = text;
      this.key = this.fresh();
    }
    return this.key;
  }

  /** After a write that succeeded: the next one, even with the same body, is a new write. */
  done(): void {
    this.body = null;
  }
}
