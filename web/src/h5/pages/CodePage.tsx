/** One person's code: the coloured QR (GET …/qr.png with the caller's token, shown through a
 * blob: URL), its colour in words, the reasons and the latest tests. The page fetches a fresh
 * code before the one on screen expires and counts down to that moment, both measured from the
 * answer's arrival and its `valid_for_seconds` (refresh.ts), never from the phone's own clock;
 * the expiry is shown as the API's instant in China time. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api } from "../../lib/api";
import { colourName } from "../../lib/colour";
import { ColourBadge } from "../../lib/components/ColourBadge";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Spinner } from "../../lib/components/Spinner";
import { chinaDateTime, countdown, masked } from "../../lib/format";
import {
  DEFAULT_TIMING,
  type Moment,
  type Schedule,
  currentMoment,
  expired as hasExpired,
  overdue,
  retriesByItself,
  scheduleFor,
  secondsToRefresh,
} from "../refresh";
import { TEST_NAMES, TEST_RESULTS, w } from "../words";

export interface CodeAnswer {
  person_id: string;
  colour: string;
  risk_level: number;
  reason: string;
  reasons?: { code: string; text: string; until: string | null }[];
  token: string;
  expires_at: string;
  valid_for_seconds?: number;
  name_masked: string;
  id_masked: string;
  display?: { colour_hex: string; brand: string; message: string };
  tests?: { test: string; result: string; sampled_at: string }[];
}

interface Shown {
  code: CodeAnswer;
  qr: string;
  schedule: Schedule;
}

/** The code and its image, fetched together, refreshed before expiry; blob URLs are revoked. */
function useLiveCode(personId: string) {
  const [shown, setShown] = useState<Shown | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(true);
  const timer = useRef<number | undefined>(undefined);
  const current = useRef<Shown | null>(null);
  const abort = useRef<AbortController | null>(null);
  const failed = useRef(false);
  const inFlight = useRef(false);

  const fetchCode = useCallback(async () => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    window.clearTimeout(timer.current);
    failed.current = false;
    inFlight.current = true;
    setBusy(true);
    const path = `/v1/codes/${encodeURIComponent(personId)}`;
    try {
      // the moment the answer arrived, not the image (valid_for_seconds counts from the answer)
      const [[code, arrived], png] = await Promise.all([
        api<CodeAnswer>(path, { signal: controller.signal }).then((answer) => [answer, currentMoment()] as const),
        api<Blob>(`${path}/qr.png`, { blob: true, signal: controller.signal }),
      ]);
      const schedule = scheduleFor(code, arrived);
      const next: Shown = { code, qr: URL.createObjectURL(png), schedule };
      if (current.current) URL.revokeObjectURL(current.current.qr);
      current.current = next;
      setShown(next);
      setError(null);
      timer.current = window.setTimeout(() => void fetchCode(), schedule.refreshIn);
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      failed.current = true;
      setError(e);
      const status = e instanceof ApiError ? e.status : 0;
      if (retriesByItself(status)) timer.current = window.setTimeout(() => void fetchCode(), DEFAULT_TIMING.min * 1000);
    } finally {
      if (!controller.signal.aborted) {
        inFlight.current = false;
        setBusy(false);
      }
    }
  }, [personId]);

  useEffect(() => {
    void fetchCode();
    // A phone that slept may have held back the timer (and its monotonic clock): coming back to
    // the foreground, or on the next tick, an overdue code is fetched at once. Never while a
    // fetch is under way or after a failure (that one retries by itself, or waits for the button).
    const catchUp = () => {
      const shownNow = current.current;
      if (document.visibilityState !== "visible" || !shownNow || failed.current) return;
      if (inFlight.current) return;
      if (overdue(shownNow.schedule, currentMoment())) void fetchCode();
    };
    document.addEventListener("visibilitychange", catchUp);
    const tick = window.setInterval(catchUp, 1000);
    return () => {
      window.clearInterval(tick);
      document.removeEventListener("visibilitychange", catchUp);
      window.clearTimeout(timer.current);
      abort.current?.abort();
      if (current.current) URL.revokeObjectURL(current.current.qr);
      current.current = null;
    };
  }, [fetchCode]);

  return { shown, error, busy, refresh: fetchCode };
}

/** Re-render every second (the countdown), with the moment on the page's clocks. */
function useNow(): Moment {
  const [now, setNow] = useState(currentMoment);
  useEffect(() => {
    const tick = window.setInterval(() => setNow(currentMoment()), 1000);
    return () => window.clearInterval(tick);
  }, []);
  return now;
}

export function CodePage({ personId }: { personId: string }) {
  const { shown, error, busy, refresh } = useLiveCode(personId);
  const now = useNow();
  if (!shown) return error ? <ErrorBanner error={error} onRetry={refresh} /> : <Spinner />;
  const { code } = shown;
  const expired = hasExpired(shown.schedule, now);
  const reasons = code.reasons ?? [];
  const tests = code.tests ?? [];
  const base = `#/codes/${encodeURIComponent(personId)}`;
  return (
    <div class="code-page">
      <ErrorBanner error={error} onRetry={refresh} />
      <section class="code-card" aria-labelledby="code-owner">
        <h2 id="code-owner" class="code-owner">
          {masked(code.name_masked)} <span class="code-id">{masked(code.id_masked)}</span>
        </h2>
        {expired ? (
          <p class="qr-expired">二维码已过期，请刷新。</p>
        ) : (
          <img class="qr" src={shown.qr} alt={`${w.qrAlt}（${colourName(code.colour)}）`} width={240} height={240} />
        )}
        <p class="code-colour">
          <ColourBadge colour={code.colour} display={code.display} />
        </p>
        {code.display?.message && <p class="code-message">{code.display.message}</p>}
        <p class="countdown" role="timer" aria-live="off">
          {busy ? w.refreshing : `${countdown(secondsToRefresh(shown.schedule, now))} ${w.refreshIn}`}
          <span class="countdown-until">
            {" "}
            · {w.validUntil} {chinaDateTime(code.expires_at)}
          </span>
        </p>
        <button type="button" onClick={refresh} disabled={busy}>
          {w.refreshNow}
        </button>
      </section>

      <section aria-labelledby="reasons-heading">
        <h2 id="reasons-heading">{w.reasons}</h2>
        <p>{code.reason}</p>
        {reasons.length === 0 ? (
          <p class="empty">{w.noReasons}</p>
        ) : (
          <ul class="plain-list">
            {reasons.map((r) => (
              <li key={r.code}>
                {r.text}
                {r.until && (
                  <span class="muted">
                    {" "}
                    （{w.until} {chinaDateTime(r.until)}）
                  </span>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="tests-heading">
        <h2 id="tests-heading">{w.tests}</h2>
        {tests.length === 0 ? (
          <p class="empty">{w.noTests}</p>
        ) : (
          <ul class="plain-list">
            {tests.map((test) => (
              <li key={test.test}>
                {TEST_NAMES[test.test] ?? test.test}：<strong>{TEST_RESULTS[test.result] ?? test.result}</strong>
                <span class="muted">
                  {" "}
                  （{w.sampledAt} {chinaDateTime(test.sampled_at)}）
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>

      <p class="links">
        <a href={`${base}/history`}>{w.history}</a>
        <a href={`${base}/appeals`}>{w.appeals}</a>
        <a href="#/scan">{w.scanVenue}</a>
      </p>
    </div>
  );
}
