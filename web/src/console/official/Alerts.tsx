import { useState } from "preact/hooks";
import { api, ApiError } from "../../lib/api";
import { ColourBadge } from "../../lib/components/ColourBadge";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field } from "../../lib/components/Field";
import { Pager } from "../../lib/components/Pager";
import { type Column, Table } from "../../lib/components/Table";
import { chinaDateTime, masked } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { chinaToday } from "./dates";
import { alertStatusName, scanKindName, verdictName, VERDICTS } from "./labels";
import { Loaded, Notice, useCursors } from "./parts";

export interface Alert {
  alert_id: string;
  venue_id: string;
  venue_name: string;
  region_code: string;
  scanned_at: string;
  kind: string;
  colour: string;
  risk_level: number;
  temperature: number | null;
  verdict: string;
  person: { name_masked: string; id_masked: string };
  status: string;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
}

/** 告警处置: the abnormal scans of the official's area on a China day, oldest region first;
 * an open one is acknowledged with a note of what was done (once only: the API says 409 after). */
export function Alerts() {
  const [date, setDate] = useState(chinaToday());
  const [status, setStatus] = useState("open");
  const [verdict, setVerdict] = useState("");
  const pages = useCursors();
  const { data, error, loading, reload } = useApi<{ alerts: Alert[]; next_cursor: string | null }>("/v1/alerts", {
    query: { date, status, verdict, cursor: pages.cursor, limit: 50 },
  });
  const [chosen, setChosen] = useState<Alert | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const filter = (apply: () => void) => {
    pages.reset();
    setChosen(null);
    apply();
  };
  const columns: Column<Alert>[] = [
    { key: "at", title: "时间", render: (a) => chinaDateTime(a.scanned_at) },
    { key: "venue", title: "场所 / 卡口", render: (a) => a.venue_name },
    { key: "region", title: "地区", render: (a) => a.region_code },
    { key: "kind", title: "方式", render: (a) => scanKindName(a.kind) },
    { key: "colour", title: "健康码", render: (a) => <ColourBadge colour={a.colour} /> },
    { key: "temperature", title: "体温", render: (a) => (a.temperature === null ? "—" : `${a.temperature.toFixed(1)} ℃`) },
    { key: "verdict", title: "处置建议", render: (a) => verdictName(a.verdict) },
    { key: "person", title: "人员", render: (a) => `${masked(a.person.name_masked)} ${masked(a.person.id_masked)}` },
    {
      key: "status",
      title: "状态",
      render: (a) =>
        a.status === "acknowledged"
          ? `${alertStatusName(a.status)}（${a.acknowledged_by ?? ""}，${a.acknowledged_at ? chinaDateTime(a.acknowledged_at) : ""}）`
          : alertStatusName(a.status),
    },
    {
      key: "act",
      title: "操作",
      render: (a) =>
        a.status === "open" ? (
          <button type="button" onClick={() => setChosen(a)} aria-label={`处置 ${a.venue_name} ${chinaDateTime(a.scanned_at)} 的告警`}>
            处置
          </button>
        ) : (
          "—"
        ),
    },
  ];
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="alerts-date">日期</label>
          <input id="alerts-date" type="date" value={date} onInput={(e) => filter(() => setDate(e.currentTarget.value))} />
        </div>
        <div class="field">
          <label for="alerts-status">状态</label>
          <select id="alerts-status" value={status} onChange={(e) => filter(() => setStatus(e.currentTarget.value))}>
            <option value="">全部</option>
            <option value="open">待处置</option>
            <option value="acknowledged">已处置</option>
          </select>
        </div>
        <div class="field">
          <label for="alerts-verdict">处置建议</label>
          <select id="alerts-verdict" value={verdict} onChange={(e) => filter(() => setVerdict(e.currentTarget.value))}>
            <option value="">全部</option>
            {VERDICTS.map((v) => (
              <option key={v} value={v}>
                {verdictName(v)}
              </option>
            ))}
          </select>
        </div>
        <button type="button" onClick={reload}>
          刷新
        </button>
      </form>
      <Notice text={done} />
      {chosen && (
        <Acknowledge
          alert={chosen}
          onCancel={() => setChosen(null)}
          onDone={(text) => {
            setChosen(null);
            setDone(text);
            reload();
          }}
        />
      )}
      <Loaded loading={loading && !data} error={error} onRetry={reload}>
        {() => (
          <>
            <Table
              caption={`${date} 的告警（异常扫码：非绿码、发热或非通行）`}
              columns={columns}
              rows={data?.alerts ?? []}
              rowKey={(a) => a.alert_id}
              empty="当天没有符合条件的告警。"
            />
            <Pager hasPrevious={pages.hasPrevious} nextCursor={data?.next_cursor} onPrevious={pages.previous} onNext={pages.next} />
          </>
        )}
      </Loaded>
    </>
  );
}

function Acknowledge(props: { alert: Alert; onCancel: () => void; onDone: (text: string) => void }) {
  const [note, setNote] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api(`/v1/alerts/${encodeURIComponent(props.alert.alert_id)}/acknowledge`, { body: { note } });
      props.onDone(`已处置：${props.alert.venue_name} ${chinaDateTime(props.alert.scanned_at)} 的告警。`);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="ack-title">
      <h2 id="ack-title">
        处置告警：{props.alert.venue_name}，{chinaDateTime(props.alert.scanned_at)}，{masked(props.alert.person.name_masked)}
      </h2>
      {!(error instanceof ApiError && error.field === "note") && <ErrorBanner error={error} />}
      <Field name="note" label="处置情况（必填，500 字以内）" error={error}>
        {(attributes) => (
          <textarea {...attributes} required maxLength={500} value={note} onInput={(e) => setNote(e.currentTarget.value)} autoFocus />
        )}
      </Field>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "提交中…" : "确认处置"}
        </button>
        <button type="button" onClick={props.onCancel}>
          取消
        </button>
      </div>
    </form>
  );
}
