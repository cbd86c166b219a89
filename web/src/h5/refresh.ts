/** When the code page fetches a fresh code. A code lives a few minutes (the policy's
 * `code_lifetime_seconds`, 300 by default, 30 to 3600); the page fetches the next one `lead`
 * seconds before it expires, so the QR on screen is never an expired one.
 *
 * Everything is measured from the moment the answer arrived, on the page's monotonic clock
 * (`performance.now()`), plus the answer's `valid_for_seconds` (counted on the server's clock):
 * a phone whose clock is minutes fast or an hour slow shows the same countdown as any other.
 * The device's wall clock (`Date.now()`) is read only as a difference from that same moment
 * (its offset cancels out; it catches up a monotonic clock that stood still while the phone
 * slept) and, for an answer without `valid_for_seconds`, against `expires_at`. Whatever it says,
 * the delay stays between `min` and `max`: never a tight loop, never a code kept for ever. */
export interface RefreshTiming {
  /** Seconds before expiry to fetch the next code. */
  lead: number;
  /** Never sooner than this after a fetch. */
  min: number;
  /** Never later than this (the longest lifetime a policy may set). */
  max: number;
}

export const DEFAULT_TIMING: RefreshTiming = { lead: 30, min: 10, max: 3600 };

/** A moment on both of the page's clocks: `performance.now()` and `Date.now()`. */
export interface Moment {
  mono: number;
  wall: number;
}

/** What the schedule needs of a code's answer (GET /v1/codes/{person_id}). */
export interface Expiry {
  expires_at: string;
  valid_for_seconds?: number;
}

/** One code's schedule, all in milliseconds after `received`. */
export interface Schedule {
  received: Moment;
  /** Until the code expires. */
  validFor: number;
  /** Until the page fetches the next one. */
  refreshIn: number;
}

/** This moment on the page's clocks. */
export function currentMoment(): Moment {
  return { mono: performance.now(), wall: Date.now() };
}

/** Milliseconds the code stays valid after its answer arrived: the server's `valid_for_seconds`,
 * else (an answer without it) `expires_at` against the device's clock at that moment. */
export function validForMs(answer: Expiry, receivedWall: number): number {
  const seconds = answer.valid_for_seconds;
  if (typeof seconds === "number" && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const expires = Date.parse(answer.expires_at);
  return Number.isNaN(expires) ? 0 : Math.max(0, expires - receivedWall);
}

/** Milliseconds after the answer until the page should fetch a fresh code. */
export function refreshDelayMs(validFor: number, timing: RefreshTiming = DEFAULT_TIMING): number {
  return Math.min(timing.max * 1000, Math.max(timing.min * 1000, validFor - timing.lead * 1000));
}

/** The schedule of an answer that arrived at `received`. */
export function scheduleFor(answer: Expiry, received: Moment, timing: RefreshTiming = DEFAULT_TIMING): Schedule {
  const validFor = validForMs(answer, received.wall);
  return { received, validFor, refreshIn: refreshDelayMs(validFor, timing) };
}

/** Milliseconds since the answer: the monotonic clock's, or the wall clock's difference when it
 * is larger (a monotonic clock may stand still while the phone sleeps; a wall clock set back
 * never makes it shorter). */
export function elapsedMs(schedule: Schedule, now: Moment): number {
  return Math.max(0, now.mono - schedule.received.mono, now.wall - schedule.received.wall);
}

/** Whole seconds left until the refresh (the countdown shown), never negative. */
export function secondsToRefresh(schedule: Schedule, now: Moment): number {
  return Math.max(0, Math.ceil((schedule.refreshIn - elapsedMs(schedule, now)) / 1000));
}

/** Whether the code on screen has expired (the page then hides its QR). */
export function expired(schedule: Schedule, now: Moment): boolean {
  return elapsedMs(schedule, now) >= schedule.validFor;
}

/** A page coming back to the foreground fetches at once when its refresh moment has passed
 * (timers of a hidden tab may have been held back by the browser). */
export function overdue(schedule: Schedule, now: Moment): boolean {
  return elapsedMs(schedule, now) >= schedule.refreshIn;
}

/** After a failed fetch, whether to try again by itself (in `min` seconds): a lost connection, a
 * server error or throttling pass; a refusal (403, 404 …) does not, and is shown as it is. */
export function retriesByItself(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}
