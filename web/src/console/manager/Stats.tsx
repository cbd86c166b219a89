/** 每日统计: the venue's scans over the last 14 days, one `GET …/stats?date=` per day (the
 * API counts a day at a time). The first call, without a date, tells which day the API calls
 * today (China time), so the page never trusts the device's clock for the range. */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../lib/api";
import { colourName } from "../../lib/colour";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Spinner } from "../../lib/components/Spinner";
import { COLOUR_ORDER, type DayCount } from "./chart";
import { DailyChart } from "./DailyChart";
import { lastDays } from "./days";
import { VenueFrame } from "./parts";
import type { Venue } from "./venueForm";

export const DAYS = 14;

export function Stats({ venueId }: { venueId: string }) {
  return <VenueFrame venueId={venueId} section="/stats">{(venue) => <StatsView venue={venue} />}</VenueFrame>;
}

/** The last `DAYS` days of `venueId`, oldest first: today's answer first, then the 13 before. */
export async function loadDays(venueId: string, signal?: AbortSignal): Promise<DayCount[]> {
  const path = `/v1/venues/${encodeURIComponent(venueId)}/stats`;
  const today = await api<DayCount>(path, { signal });
  const earlier = lastDays(today.date, DAYS).slice(0, -1);
  const before = await Promise.all(earlier.map((date) => api<DayCount>(path, { query: { date }, signal })));
  return [...before, today];
}

function StatsView({ venue }: { venue: Venue }) {
  const [days, setDays] = useState<DayCount[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    setError(null);
    loadDays(venue.venue_id, abort.signal)
      .then(setDays)
      .catch((e) => {
        if ((e as Error).name !== "AbortError") setError(e);
      });
    return () => abort.abort();
  }, [venue.venue_id, round]);
  if (error) return <ErrorBanner error={error} onRetry={() => setRound((n) => n + 1)} />;
  if (!days) return <Spinner label="正在读取近 14 天的统计…" />;
  const total = days.reduce((sum, d) => sum + d.scans, 0);
  const colours = COLOUR_ORDER.filter((c) => c === "green" || days.some((d) => (d.by_colour?.[c] ?? 0) > 0));
  return (
    <>
      <div class="mgr-actions">
        <span>
          {days[0].date} 至 {days[days.length - 1].date} 共扫码 <strong>{total}</strong> 次，其中异常{" "}
          <strong>{days.reduce((sum, d) => sum + d.abnormal, 0)}</strong> 次。
        </span>
        <button type="button" onClick={() => setRound((n) => n + 1)}>
          刷新
        </button>
      </div>
      {total === 0 && <p class="mgr-empty">近 14 天本场所没有扫码记录。</p>}
      <DailyChart days={days} title={`${venue.name} 近 14 天每日扫码次数`} />
      <table class="table">
        <caption>每日扫码明细</caption>
        <thead>
          <tr>
            <th scope="col">日期</th>
            <th scope="col">扫码次数</th>
            <th scope="col">异常次数</th>
            {colours.map((c) => (
              <th scope="col" key={c}>
                {colourName(c)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[...days].reverse().map((d) => (
            <tr key={d.date}>
              <th scope="row">{d.date}</th>
              <td>{d.scans}</td>
              <td>{d.abnormal}</td>
              {colours.map((c) => (
                <td key={c}>{d.by_colour?.[c] ?? 0}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
