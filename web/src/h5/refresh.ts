/** When the code page fetches a fresh code. A code lives a few minutes (the policy's
 * `code_lifetime_seconds`, 300 by default, 30 to 3600); the page fetches the next one `lead`
 * seconds before `expires_at`, so the QR on screen is never an expired one. A device clock that
 * is wrong (expiry already past, or further away than any code lives) cannot make the page fetch
 * in a tight loop or never again: the delay stays between `min` and `max`. */
export interface RefreshTiming {
  /** Seconds before expiry to fetch the next code. */
  lead: number;
  /** Never sooner than this after a fetch. */
  min: number;
  /** Never later than this (the longest lifetime a policy may set). */
  max: number;
}

export const DEFAULT_TIMING: RefreshTiming = { lead: 30, min: 10, max: 3600 };

/** Milliseconds from `now` until the page should fetch a fresh code. */
export function refreshDelayMs(expiresAt: string, now: number, timing: RefreshTiming = DEFAULT_TIMING): number {
  const expires = Date.parse(expiresAt);
  if (Number.isNaN(expires)) return timing.min * 1000;
  const wanted = expires - timing.lead * 1000 - now;
  return Math.min(timing.max * 1000, Math.max(timing.min * 1000, wanted));
}

/** Whole seconds left until `at` (the countdown shown), never negative. */
export function secondsLeft(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** A page coming back to the foreground fetches at once when its refresh moment has passed
 * (timers of a hidden tab may have been held back by the browser). */
export function overdue(refreshAt: number, now: number): boolean {
  return now >= refreshAt;
}

/** After a failed fetch, whether to try again by itself (in `min` seconds): a lost connection, a
 * server error or throttling pass; a refusal (403, 404 …) does not, and is shown as it is. */
export function retriesByItself(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}
