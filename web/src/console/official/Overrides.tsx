import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api, ApiError } from "../../lib/api";
import type { Session } from "../../lib/auth";
import { ColourBadge } from "../../lib/components/ColourBadge";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Pager } from "../../lib/components/Pager";
import { chinaDateTime } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { OVERRIDE_REASONS, REQUEST_KINDS, requestKindName, requestStatusName } from "./labels";
import { Facts, Loaded, Notice, useCursors } from "./parts";

/** An override (`override_id`) or an act held for a second official (`request_id`). */
export interface Pending {
  override_id?: string;
  request_id?: string;
  kind?: string;
  person_id: string | null;
  status: string;
  colour?: string;
  reason_code?: string;
  evidence_ref?: string;
  note?: string | null;
  reason?: string | null;
  until?: string | null;
  requested_by: string;
  requested_at: string;
}

export function pendingId(item: Pending): string {
  return item.override_id ?? item.request_id ?? "";
}

/** Why the signed-in official may not approve `item` (null: they may). The API refuses the
 * requester's own approval (403 cannot_approve_own); the page says so before anyone clicks. */
export function whyNotApprove(item: Pending, sub: string): string | null {
  return item.requested_by === sub ? "这是您本人提交的申请，须由另一名工作人员审批（双人复核）；您可以撤回（驳回）它。" : null;
}

/** 改码审批: overrides and acts held for a second official, oldest first; approve or reject. */
export function Overrides({ session }: { session: Session }) {
  const [kind, setKind] = useState("override");
  const pages = useCursors();
  const { data, error, loading, reload } = useApi<{ overrides: Pending[]; next: string | null }>("/v1/overrides", {
    query: { kind, next: pages.cursor, limit: 50 },
  });
  const [done, setDone] = useState<string | null>(null);
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="overrides-kind">类别</label>
          <select
            id="overrides-kind"
            value={kind}
            onChange={(e) => {
              pages.reset();
              setKind(e.currentTarget.value);
            }}
          >
            {REQUEST_KINDS.map((k) => (
              <option key={k} value={k}>
                {requestKindName(k)}
              </option>
            ))}
          </select>
        </div>
        <button type="button" onClick={reload}>
          刷新
        </button>
      </form>
      <Notice text={done} />
      <Loaded loading={loading && !data} error={error} onRetry={reload}>
        {() =>
          (data?.overrides ?? []).length === 0 ? (
            <p class="empty">没有待审批的{requestKindName(kind)}申请。</p>
          ) : (
            <>
              <ul class="cards" aria-label="待审批申请">
                {data!.overrides.map((item) => (
                  <li key={pendingId(item)}>
                    <Decide
                      item={item}
                      sub={session.sub}
                      onDecided={(text) => {
                        setDone(text);
                        reload();
                      }}
                    />
                  </li>
                ))}
              </ul>
              <Pager hasPrevious={pages.hasPrevious} nextCursor={data?.next} onPrevious={pages.previous} onNext={pages.next} />
            </>
          )
        }
      </Loaded>
    </>
  );
}

function Decide({ item, sub, onDecided }: { item: Pending; sub: string; onDecided: (text: string) => void }) {
  const id = pendingId(item);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const whyNot = whyNotApprove(item, sub);
  const decide = async (decision: "approve" | "reject") => {
    setBusy(true);
    setError(null);
    try {
      const body = decision === "reject" && reason.trim() ? { reason: reason.trim() } : decision === "reject" ? {} : undefined;
      const answer = await api<Pending>(`/v1/overrides/${encodeURIComponent(id)}/${decision}`, { method: "POST", body });
      onDecided(`申请 ${id} ${requestStatusName(answer.status)}。`);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  const rows: [string, ComponentChildren][] = [
    ["类别", requestKindName(item.kind ?? "override")],
    ["申请人", item.requested_by],
    ["申请时间", chinaDateTime(item.requested_at)],
    ["状态", requestStatusName(item.status)],
  ];
  if (item.person_id) rows.push(["人员", <a href={`#/official/persons/${encodeURIComponent(item.person_id)}`}>{item.person_id}</a>]);
  if (item.colour) rows.push(["改为", <ColourBadge colour={item.colour} />]);
  if (item.reason_code) rows.push(["原因", OVERRIDE_REASONS[item.reason_code] ?? item.reason_code]);
  if (item.evidence_ref) rows.push(["依据", item.evidence_ref]);
  if (item.until) rows.push(["有效至", chinaDateTime(item.until)]);
  const words = item.note ?? item.reason;
  if (words) rows.push(["说明", words]);
  const reasonId = `reject-reason-${id}`;
  return (
    <section aria-label={`申请 ${id}`}>
      <h2>
        {requestKindName(item.kind ?? "override")} · {id}
      </h2>
      <Facts rows={rows} />
      {whyNot && <p class="why-not">{whyNot}</p>}
      <ErrorBanner error={error} />
      <div class="actions">
        <button type="button" class="primary" disabled={busy || Boolean(whyNot)} onClick={() => decide("approve")}>
          批准
        </button>
        <label for={reasonId}>驳回理由（可选）</label>
        <input id={reasonId} maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        <button type="button" disabled={busy} onClick={() => decide("reject")}>
          {whyNot ? "撤回" : "驳回"}
        </button>
      </div>
      {error instanceof ApiError && error.code === "already_decided" && <p class="muted">已有其他工作人员作出决定，请刷新列表。</p>}
    </section>
  );
}
