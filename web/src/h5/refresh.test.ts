import { describe, expect, it } from "vitest";
import {
  type Moment,
  elapsedMs,
  expired,
  overdue,
  refreshDelayMs,
  retriesByItself,
  scheduleFor,
  secondsToRefresh,
  validForMs,
} from "./refresh";

/** The server's clock when it answered; the code expires five minutes later. */
const SERVER_NOW = Date.parse("2026-12-06T04:00:00Z");
const ANSWER = { expires_at: "2026-12-06T04:05:00Z", valid_for_seconds: 300 };
const MINUTE = 60_000;

/** A phone whose wall clock is `skew` ms off the server's; its monotonic clock stands at 5 s. */
function phone(skew: number) {
  const received: Moment = { mono: 5_000, wall: SERVER_NOW + skew };
  const later = (ms: number): Moment => ({ mono: received.mono + ms, wall: received.wall + ms });
  return { received, later };
}

describe("code refresh timing", () => {
  it("fetches the next code 30 seconds before this one expires", () => {
    const { received, later } = phone(0);
    const schedule = scheduleFor(ANSWER, received);
    expect(schedule.refreshIn).toBe(270_000);
    expect(secondsToRefresh(schedule, received)).toBe(270);
    expect(secondsToRefresh(schedule, later(269_001))).toBe(1);
    expect(overdue(schedule, later(269_999))).toBe(false);
    expect(overdue(schedule, later(270_000))).toBe(true);
    expect(expired(schedule, later(299_999))).toBe(false);
    expect(expired(schedule, later(300_000))).toBe(true);
  });

  it.each([
    ["a few minutes fast", 4 * MINUTE],
    ["ten minutes fast", 10 * MINUTE],
    ["an hour slow", -60 * MINUTE],
  ])("schedules the same on a phone %s (valid_for_seconds, not the phone's clock)", (_label, skew) => {
    const { received, later } = phone(skew);
    const schedule = scheduleFor(ANSWER, received);
    expect(schedule.validFor).toBe(300_000);
    expect(schedule.refreshIn).toBe(270_000);
    expect(secondsToRefresh(schedule, received)).toBe(270);
    expect(expired(schedule, received)).toBe(false);
    expect(overdue(schedule, later(MINUTE))).toBe(false);
    expect(overdue(schedule, later(270_000))).toBe(true);
    expect(expired(schedule, later(300_000))).toBe(true);
  });

  it("falls back to expires_at against the phone's clock for an answer without valid_for_seconds", () => {
    const old = { expires_at: ANSWER.expires_at };
    expect(scheduleFor(old, phone(0).received).refreshIn).toBe(270_000);
    expect(validForMs({ expires_at: "2026-12-06T12:05:00+08:00" }, SERVER_NOW)).toBe(300_000);
    // the skew is then the phone's: fast, the code looks expired (fetched again in 10 s, no loop)
    const fast = scheduleFor(old, phone(10 * MINUTE).received);
    expect(fast.validFor).toBe(0);
    expect(fast.refreshIn).toBe(10_000);
    // slow, it looks valid an hour longer: the refresh still comes within the longest lifetime
    expect(scheduleFor(old, phone(-60 * MINUTE).received).refreshIn).toBe(3_600_000);
    expect(validForMs({ expires_at: "not a time" }, SERVER_NOW)).toBe(0);
  });

  it("counts from the answer's arrival, not from a clock set or slept through", () => {
    const { received } = phone(0);
    const schedule = scheduleFor(ANSWER, received);
    // the wall clock set back an hour a minute later: the monotonic clock still counts the minute
    const setBack: Moment = { mono: received.mono + MINUTE, wall: received.wall + MINUTE - 60 * MINUTE };
    expect(elapsedMs(schedule, setBack)).toBe(MINUTE);
    expect(secondsToRefresh(schedule, setBack)).toBe(210);
    // a phone that slept ten minutes (its monotonic clock stood still): the code is overdue
    const slept: Moment = { mono: received.mono + 1_000, wall: received.wall + 10 * MINUTE };
    expect(overdue(schedule, slept)).toBe(true);
    expect(expired(schedule, slept)).toBe(true);
  });

  it("never fetches in a tight loop nor waits longer than any code lives", () => {
    expect(refreshDelayMs(20_000)).toBe(10_000);
    expect(refreshDelayMs(0)).toBe(10_000);
    expect(refreshDelayMs(24 * 60 * MINUTE)).toBe(3_600_000);
    expect(scheduleFor({ ...ANSWER, valid_for_seconds: -5 }, phone(0).received).refreshIn).toBe(10_000);
  });

  it("honours another lead", () => {
    expect(refreshDelayMs(MINUTE, { lead: 10, min: 5, max: 600 })).toBe(50_000);
  });

  it("tries again by itself after a lost connection or a server error, never after a refusal", () => {
    expect([0, 429, 500, 503].map(retriesByItself)).toEqual([true, true, true, true]);
    expect([401, 403, 404, 422].map(retriesByItself)).toEqual([false, false, false, false]);
  });
});
