/** Pieces the venue managers' pages share: a loading/error frame, a polite notice of what the
 * last action did, the cursors a list has been through, and the frame of one venue's pages
 * (its name, status and the links between them). */
import type { ComponentChildren } from "preact";
import { ApiError } from "../../lib/api";
import { useApi } from "../../lib/useApi";
import { labelOf, STATUS_LABELS, VENUE_TYPE_LABELS } from "./labels";
import type { Venue } from "./venueForm";

import { Loaded } from "../../lib/components/Loaded";

export { Loaded };

/** A live line saying what the last action did (empty until then). */
export function Notice({ text }: { text: ComponentChildren | null }) {
  return (
    <div class={text ? "mgr-notice" : "mgr-notice mgr-notice-empty"} role="status" aria-live="polite">
      {text ?? ""}
    </div>
  );
}

export { useCursors } from "../../lib/cursors";

/** An error the form shows beside one of `fields`; anything else goes to the banner. */
export function bannerError(error: unknown, fields: readonly string[]): unknown {
  if (!(error instanceof ApiError) || !error.field) return error;
  const named = error.field;
  return fields.some((f) => named === f || named.startsWith(`${f}.`) || named.startsWith(`${f}[`)) ? null : error;
}

export const VENUE_SECTIONS: [string, string][] = [
  ["", "概况"],
  ["/edit", "修改登记"],
  ["/poster", "场所码海报"],
  ["/staff", "工作人员"],
  ["/join-codes", "门店入驻码"],
  ["/stats", "每日统计"],
  ["/alerts", "异常提醒"],
];

/** One venue's pages: the venue is read first (a venue the caller may not manage shows the
 * API's refusal and nothing else), then `children` draws the section. */
export function VenueFrame(props: { venueId: string; section: string; children: (venue: Venue, reload: () => void) => ComponentChildren }) {
  const { data, error, loading, reload } = useApi<Venue>(`/v1/venues/${encodeURIComponent(props.venueId)}`);
  return (
    <Loaded loading={loading && data?.venue_id !== props.venueId} error={error} onRetry={reload}>
      {() =>
        data && (
          <div class="mgr-venue">
            <p class="mgr-venue-title">
              <span class="mgr-venue-name">{data.name}</span>
              <span class="mgr-muted">{labelOf(VENUE_TYPE_LABELS, data.type)}</span>
              <span class={`mgr-status mgr-status-${data.status}`}>{labelOf(STATUS_LABELS, data.status)}</span>
            </p>
            <nav class="mgr-tabs" aria-label="场所页面">
              <ul>
                {VENUE_SECTIONS.map(([suffix, label]) => (
                  <li key={suffix}>
                    <a
                      href={`#/manager/venues/${encodeURIComponent(data.venue_id)}${suffix}`}
                      aria-current={suffix === props.section ? "page" : undefined}
                    >
                      {label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
            {props.children(data, reload)}
          </div>
        )
      }
    </Loaded>
  );
}

/** A definition list of label → value rows. */
export function Facts({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="mgr-facts">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
