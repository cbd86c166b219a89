/** 门店入驻码: a one-time code (`POST …/join-codes`) with which a store's own manager registers
 * the store under this complex. The API stores only its digest, so the code is shown once,
 * here, and never again; the page keeps the codes issued while it is open. */
import { useState } from "preact/hooks";
import { api, newIdempotencyKey } from "../../lib/api";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { chinaDateTime } from "../../lib/format";
import { VenueFrame } from "./parts";
import type { Venue } from "./venueForm";

interface Issued {
  join_code: string;
  expires_at: string;
}

export function JoinCodes({ venueId }: { venueId: string }) {
  return <VenueFrame venueId={venueId} section="/join-codes">{(venue) => <JoinCodesView venue={venue} />}</VenueFrame>;
}

function JoinCodesView({ venue }: { venue: Venue }) {
  const [issued, setIssued] = useState<Issued[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const issue = async () => {
    setBusy(true);
    setError(null);
    try {
      const answer = await api<Issued>(`/v1/venues/${encodeURIComponent(venue.venue_id)}/join-codes`, {
        method: "POST",
        idempotencyKey: newIdempotencyKey(),
      });
      setIssued((before) => [answer, ...before]);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <div class="mgr-panel">
        <h2>让门店入驻本场所</h2>
        <ol class="mgr-steps">
          <li>点击“生成入驻码”，把入驻码和本场所编号 <code>{venue.venue_id}</code> 交给门店负责人。</li>
          <li>门店负责人用自己的账号登录，在“登记新场所”中填写“综合体场所编号”和“入驻码”。</li>
          <li>每个入驻码只能让一家门店入驻一次，过期作废。</li>
        </ol>
        <ErrorBanner error={error} />
        <button type="button" class="primary" disabled={busy || venue.status === "closed"} onClick={issue}>
          {busy ? "正在生成…" : "生成入驻码"}
        </button>
      </div>
      <section aria-labelledby="issued-heading">
        <h2 id="issued-heading" class="mgr-h2">
          本次生成的入驻码
        </h2>
        {issued.length === 0 ? (
          <p class="mgr-empty">本次还没有生成入驻码。入驻码只在生成时显示一次，离开本页后无法再次查看。</p>
        ) : (
          <ul class="mgr-codes" aria-live="polite">
            {issued.map((code) => (
              <li key={code.join_code}>
                <span class="mgr-join-code">
                  {code.join_code}
                </span>
                <span class="mgr-muted">有效期至 {chinaDateTime(code.expires_at)}（仅显示这一次，请立即转交）</span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
