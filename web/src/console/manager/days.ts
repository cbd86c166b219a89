/** Calendar days as the API writes them (`YYYY-MM-DD`, China time): the stats page asks for
 * the last 14 days ending on the day the API calls today. */

/** The `count` days ending with `today`, oldest first. */
export function lastDays(today: string, count: number): string[] {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(today);
  if (!match) throw new Error(`not a day: ${today}`);
  const end = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  const days: string[] = [];
  for (let back = count - 1; back >= 0; back -= 1) {
    days.push(new Date(end - back * 86_400_000).toISOString().slice(0, 10));
  }
  return days;
}

/** `12-06` for an axis label. */
export function shortDay(day: string): string {
  return day.slice(5);
}
