/** 场所码海报: the API's own poster (`poster.png`, fetched with the caller's token into a blob
 * URL) to preview, print (a print stylesheet keeps only the poster) and download (PNG, or the
 * SVG for a print shop); and a new code when a poster was damaged, forwarded or lost. */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../lib/api";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field } from "../../lib/components/Field";
import { Spinner } from "../../lib/components/Spinner";
import { REISSUE_REASONS } from "./labels";
import { bannerError, Notice, VenueFrame } from "./parts";
import type { Venue } from "./venueForm";

export function Poster({ venueId }: { venueId: string }) {
  return <VenueFrame venueId={venueId} section="/poster">{(venue, reload) => <PosterView venue={venue} onReissued={reload} />}</VenueFrame>;
}

/** A file name people recognise: the venue's name without characters file systems refuse. */
export function posterFileName(name: string, extension: "png" | "svg"): string {
  const safe = name.trim().replace(/[\\/:*?"<>|\s]+/g, "_").slice(0, 40) || "venue";
  return `场所码海报-${safe}.${extension}`;
}

function usePoster(venue: Venue) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let created: string | null = null;
    const abort = new AbortController();
    setUrl(null);
    setError(null);
    api<Blob>(`/v1/venues/${encodeURIComponent(venue.venue_id)}/poster.png`, { blob: true, signal: abort.signal })
      .then((png) => {
        created = URL.createObjectURL(png);
        setUrl(created);
      })
      .catch((e) => {
        if ((e as Error).name !== "AbortError") setError(e);
      });
    return () => {
      abort.abort();
      if (created) URL.revokeObjectURL(created);
    };
  }, [venue.venue_id, venue.code_generation, venue.name, venue.address, round]);
  return { url, error, retry: () => setRound((n) => n + 1) };
}

function PosterView({ venue, onReissued }: { venue: Venue; onReissued: () => void }) {
  const poster = usePoster(venue);
  const [svgError, setSvgError] = useState<unknown>(null);
  const downloadSvg = async () => {
    setSvgError(null);
    try {
      const svg = await api<Blob>(`/v1/venues/${encodeURIComponent(venue.venue_id)}/poster.svg`, { blob: true });
      const url = URL.createObjectURL(svg);
      const link = document.createElement("a");
      link.href = url;
      link.download = posterFileName(venue.name, "svg");
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setSvgError(e);
    }
  };
  return (
    <div class="mgr-poster">
      {poster.error ? (
        <ErrorBanner error={poster.error} onRetry={poster.retry} />
      ) : !poster.url ? (
        <Spinner label="正在生成海报…" />
      ) : (
        <>
          <div class="mgr-actions mgr-no-print">
            <button type="button" class="primary" onClick={() => window.print()}>
              打印海报
            </button>
            <a class="mgr-button" href={poster.url} download={posterFileName(venue.name, "png")}>
              下载海报（PNG）
            </a>
            <button type="button" onClick={downloadSvg}>
              下载矢量图（SVG，供印刷）
            </button>
          </div>
          <ErrorBanner error={svgError} />
          <figure class="mgr-poster-sheet">
            <img src={poster.url} alt={`${venue.name}的场所码海报（第 ${venue.code_generation ?? 1} 版）`} />
            <figcaption class="mgr-muted mgr-no-print">
              第 {venue.code_generation ?? 1} 版场所码 · 市民用健康码扫描海报上的二维码登记到访
            </figcaption>
          </figure>
        </>
      )}
      {venue.status === "active" && <Reissue venue={venue} onReissued={onReissued} />}
    </div>
  );
}

function Reissue({ venue, onReissued }: { venue: Venue; onReissued: () => void }) {
  const [reason, setReason] = useState("damaged");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const answer = await api<{ generation: number }>(`/v1/venues/${encodeURIComponent(venue.venue_id)}/code`, { body: { reason } });
      setDone(`已生成第 ${answer.generation} 版场所码，之前的海报已失效，请打印新海报。`);
      onReissued();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="mgr-panel mgr-no-print" onSubmit={submit}>
      <h2>更换场所码</h2>
      <p class="mgr-muted">海报损坏、被转发或遗失时更换：旧海报上的二维码将立即无法登记。</p>
      <Notice text={done} />
      <ErrorBanner error={bannerError(error, ["reason"])} />
      <div class="mgr-filters">
        <Field name="reason" label="更换原因" error={error}>
          {(a) => (
            <select {...a} value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
              {Object.entries(REISSUE_REASONS).map(([code, label]) => (
                <option key={code} value={code}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? "正在更换…" : "更换场所码"}
        </button>
      </div>
    </form>
  );
}
