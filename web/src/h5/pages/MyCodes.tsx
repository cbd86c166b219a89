import { ColourBadge } from "../../lib/components/ColourBadge";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Spinner } from "../../lib/components/Spinner";
import { t } from "../../lib/i18n/messages";
import { masked } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import type { HeldCode } from "../checkin";
import { w } from "../words";

/** GET /v1/codes: the account's own code and its dependants'. */
export type CodeSummary = HeldCode;

export function MyCodes() {
  const { data, error, loading, reload } = useApi<{ codes: CodeSummary[] }>("/v1/codes");
  if (loading) return <Spinner />;
  if (error) return <ErrorBanner error={error} onRetry={reload} />;
  const codes = data?.codes ?? [];
  return (
    <section>
      {codes.length === 0 ? (
        <p class="empty">{t.noCodes}</p>
      ) : (
        <ul class="card-list">
          {codes.map((code) => (
            <li key={code.person_id}>
              <a href={`#/codes/${encodeURIComponent(code.person_id)}`}>
                <span>
                  {masked(code.name_masked)}
                  <span class="muted">{code.dependant ? "（家属）" : "（本人）"}</span>
                </span>
                <ColourBadge colour={code.colour} />
              </a>
            </li>
          ))}
        </ul>
      )}
      <p class="actions">
        <a class="button-link" href="#/apply">
          {t.applyForCode}
        </a>
        {codes.length > 0 && (
          <a class="button-link" href="#/scan">
            {w.scanVenue}
          </a>
        )}
      </p>
    </section>
  );
}
