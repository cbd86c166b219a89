/** 工作人员: the accounts assigned to check codes at this venue (a complex: its doors and stores
 * too). Assign (`PUT …/staff/{sub}`), remove (`DELETE`), list page by page (`GET …/staff`).
 * An account gets no power from being listed: its scanner role is checked when it acts. */
import { useState } from "preact/hooks";
import { api } from "../../lib/api";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field } from "../../lib/components/Field";
import { Pager } from "../../lib/components/Pager";
import { type Column, Table } from "../../lib/components/Table";
import { chinaDateTime } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { bannerError, Loaded, Notice, useCursors, VenueFrame } from "./parts";
import type { Venue } from "./venueForm";

interface Assignment {
  sub: string;
  assigned_at: string;
}

const PAGE_SIZE = 20;

export function Staff({ venueId }: { venueId: string }) {
  return <VenueFrame venueId={venueId} section="/staff">{(venue) => <StaffView venue={venue} />}</VenueFrame>;
}

function staffPath(venueId: string, sub?: string): string {
  return `/v1/venues/${encodeURIComponent(venueId)}/staff${sub === undefined ? "" : `/${encodeURIComponent(sub)}`}`;
}

function StaffView({ venue }: { venue: Venue }) {
  const pages = useCursors();
  const list = useApi<{ staff: Assignment[]; next_cursor: string | null }>(staffPath(venue.venue_id), {
    query: { limit: PAGE_SIZE, cursor: pages.cursor },
  });
  const [sub, setSub] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const act = async (work: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      setDone(await work());
      list.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const assign = (event: Event) => {
    event.preventDefault();
    const account = sub.trim();
    void act(async () => {
      await api(staffPath(venue.venue_id, account), { method: "PUT" });
      setSub("");
      return `已指派 ${account} 为本场所工作人员。`;
    });
  };
  const remove = (account: string) =>
    void act(async () => {
      await api(staffPath(venue.venue_id, account), { method: "DELETE" });
      return `已移除 ${account}。`;
    });
  const columns: Column<Assignment>[] = [
    { key: "sub", title: "工作人员账号", render: (a) => <code>{a.sub}</code> },
    { key: "at", title: "指派时间", render: (a) => chinaDateTime(a.assigned_at) },
    {
      key: "remove",
      title: "操作",
      render: (a) => (
        <button type="button" disabled={busy} onClick={() => remove(a.sub)} aria-label={`移除 ${a.sub}`}>
          移除
        </button>
      ),
    },
  ];
  return (
    <>
      <form class="mgr-panel" onSubmit={assign}>
        <h2>指派工作人员</h2>
        <p class="mgr-muted">填写工作人员的登录账号（用户编号）。账号须具有“卡口工作人员”身份才能在本场所扫码核验。</p>
        <Notice text={done} />
        <ErrorBanner error={bannerError(error, ["sub"])} />
        <div class="mgr-filters">
          <Field name="sub" label="工作人员账号" error={error}>
            {(a) => <input {...a} value={sub} required autocomplete="off" onInput={(e) => setSub(e.currentTarget.value)} />}
          </Field>
          <button type="submit" class="primary" disabled={busy || !sub.trim()}>
            指派
          </button>
        </div>
      </form>
      <Loaded loading={list.loading} error={list.error} onRetry={list.reload}>
        {() => (
          <>
            <Table caption="本场所的工作人员" columns={columns} rows={list.data?.staff ?? []} rowKey={(a) => a.sub} empty="还没有指派工作人员。" />
            <Pager hasPrevious={pages.hasPrevious} nextCursor={list.data?.next_cursor} onPrevious={pages.previous} onNext={pages.next} />
          </>
        )}
      </Loaded>
    </>
  );
}
