/** 异常提醒: the venue's abnormal scans on a day (`GET …/alerts?date=`; no date: today, China
 * time). Visitors are masked unless the province lets managers see who they are and the scan
 * was witnessed by this venue's own staff; the API decides and audits, the page shows what came. */
import { useState } from "preact/hooks";
import { ColourBadge } from "../../lib/components/ColourBadge";
import { Field } from "../../lib/components/Field";
import { type Column, Table } from "../../lib/components/Table";
import { chinaDateTime, masked } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { KIND_LABELS, labelOf, VERDICT_LABELS } from "./labels";
import { Loaded, VenueFrame } from "./parts";
import type { Venue } from "./venueForm";

export interface VenueAlert {
  scan_id: string;
  scanned_at: string;
  kind: string;
  colour: string;
  risk_level: number;
  verdict: string;
  temperature: number | null;
  identity_visible: boolean;
  person: { name_masked: string | null; id_masked: string | null; name?: string; id_number?: string; phone?: string | null };
}

export function VenueAlerts({ venueId }: { venueId: string }) {
  return <VenueFrame venueId={venueId} section="/alerts">{(venue) => <AlertsView venue={venue} />}</VenueFrame>;
}

/** Who the visitor is, as the API sent it: the full identity only when it says so. */
function visitor(alert: VenueAlert) {
  const p = alert.person;
  if (alert.identity_visible && p.name) {
    return (
      <span>
        {p.name} {p.id_number} {p.phone ?? ""} <span class="mgr-tag">已核验身份</span>
      </span>
    );
  }
  return `${masked(p.name_masked)} ${masked(p.id_masked)}`;
}

const columns: Column<VenueAlert>[] = [
  { key: "at", title: "时间", render: (a) => chinaDateTime(a.scanned_at) },
  { key: "kind", title: "方式", render: (a) => labelOf(KIND_LABELS, a.kind) },
  { key: "colour", title: "健康码", render: (a) => <ColourBadge colour={a.colour} /> },
  { key: "verdict", title: "处置", render: (a) => labelOf(VERDICT_LABELS, a.verdict) },
  { key: "temperature", title: "体温", render: (a) => (a.temperature == null ? "—" : `${a.temperature.toFixed(1)} ℃`) },
  { key: "person", title: "人员", render: visitor },
];

function AlertsView({ venue }: { venue: Venue }) {
  const [date, setDate] = useState("");
  const { data, error, loading, reload } = useApi<{ date: string; alerts: VenueAlert[] }>(
    `/v1/venues/${encodeURIComponent(venue.venue_id)}/alerts`,
    { query: { date } },
  );
  return (
    <>
      <form class="mgr-filters" onSubmit={(e) => e.preventDefault()}>
        <Field name="date" label="日期（不填为今天）" error={error}>
          {(a) => <input {...a} type="date" value={date} onChange={(e) => setDate(e.currentTarget.value)} />}
        </Field>
        <button type="button" onClick={reload}>
          刷新
        </button>
      </form>
      <Loaded loading={loading} error={error} onRetry={reload}>
        {() => (
          <>
            <p class="mgr-muted">
              {data?.date} 的异常扫码：健康码非绿码或体温异常。人员信息按本省规定显示，仅本场所工作人员现场核验的记录才可能显示完整身份。
            </p>
            <Table
              caption={`${data?.date ?? ""} 异常扫码记录`}
              columns={columns}
              rows={data?.alerts ?? []}
              rowKey={(a) => a.scan_id}
              empty="当日没有异常扫码。"
            />
          </>
        )}
      </Loaded>
    </>
  );
}
