import { useEffect, useState } from "preact/hooks";
import { api } from "../../lib/api";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Spinner } from "../../lib/components/Spinner";
import { Table } from "../../lib/components/Table";
import { chinaDateTime } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { type ContactRow, planLayout, type PlanVenue, timelineLayout } from "./charts";
import { caseStatusName, contactKindName, nextCaseStatuses, tracingName } from "./labels";
import { Facts, heldText, isHeld, Loaded, Notice } from "./parts";

interface CaseAnswer {
  case_id: string;
  person_id: string;
  status: string;
  diagnosed_at: string | null;
  tracing: string;
  contacts_found: number;
  tasks_total?: number;
  tasks_done?: number;
  generations: number;
  history: { status: string; at: string; by: string }[];
}

interface VenueAnswer {
  venue_id: string;
  name: string;
  location: { lat: number; lng: number } | null;
  root_venue_id: string | null;
}

/** How often the page asks again while tracing runs (the stream consumer finishes it). */
const TRACING_POLL_MS = 4000;
/** The plan draws at most this many venues (each is one GET). */
const PLAN_VENUES = 40;

/** 病例详情: the case and its status history, a status change, the contacts on a timeline and the
 * venues where they were exposed on a schematic plan drawn from the venues' own coordinates. */
export function CasePage({ caseId }: { caseId: string }) {
  const path = `/v1/cases/${encodeURIComponent(caseId)}`;
  const found = useApi<CaseAnswer>(path);
  const contacts = useApi<{ tracing: string; contacts: ContactRow[]; next: string | null }>(`${path}/contacts`);
  const pending = found.data?.tracing === "pending";
  useEffect(() => {
    if (!pending) return;
    const timer = setTimeout(() => {
      found.reload();
      contacts.reload();
    }, TRACING_POLL_MS);
    return () => clearTimeout(timer);
  }, [pending, found.data, found.reload, contacts.reload]);
  const refresh = () => {
    found.reload();
    contacts.reload();
  };
  return (
    <Loaded loading={found.loading && !found.data} error={found.error} onRetry={found.reload}>
      {() =>
        found.data && (
          <>
            <Facts
              rows={[
                ["病例编号", found.data.case_id],
                ["诊断类别", caseStatusName(found.data.status)],
                ["诊断时间", found.data.diagnosed_at ? chinaDateTime(found.data.diagnosed_at) : "—"],
                ["流调", tracingName(found.data.tracing)],
                ["接触者", `${found.data.contacts_found} 人`],
                ["人员", <a href={`#/official/persons/${encodeURIComponent(found.data.person_id)}`}>查看病例本人档案</a>],
              ]}
            />
            <div class="actions">
              <button type="button" onClick={refresh}>
                刷新
              </button>
              {pending && <Spinner label="流调进行中，完成后自动更新…" />}
            </div>
            <StatusChange data={found.data} onChanged={refresh} />
            <h2>状态记录</h2>
            <Table
              caption="病例状态记录"
              rows={found.data.history}
              rowKey={(h) => `${h.status}-${h.at}`}
              empty="没有状态记录。"
              columns={[
                { key: "status", title: "状态", render: (h) => caseStatusName(h.status) },
                { key: "at", title: "时间", render: (h) => chinaDateTime(h.at) },
                { key: "by", title: "操作人", render: (h) => h.by },
              ]}
            />
            <h2>接触者</h2>
            <Loaded loading={contacts.loading && !contacts.data} error={contacts.error} onRetry={contacts.reload}>
              {() => <Contacts rows={contacts.data?.contacts ?? []} diagnosedAt={found.data?.diagnosed_at ?? null} more={Boolean(contacts.data?.next)} />}
            </Loaded>
          </>
        )
      }
    </Loaded>
  );
}

function StatusChange({ data, onChanged }: { data: CaseAnswer; onChanged: () => void }) {
  const choices = nextCaseStatuses(data.status);
  const [status, setStatus] = useState(choices[0] ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  if (choices.length === 0) return <p class="muted">病例已结案（{caseStatusName(data.status)}），新的发病须另立病例。</p>;
  const chosen = choices.includes(status) ? status : choices[0];
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await api(`/v1/cases/${encodeURIComponent(data.case_id)}`, { method: "PATCH", body: { status: chosen } });
      setDone(isHeld(answer) ? heldText(answer) : `病例已改为“${caseStatusName(chosen)}”。`);
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="case-status-title">
      <h2 id="case-status-title">变更病例状态</h2>
      <ErrorBanner error={error} />
      <div class="filters">
        <div class="field">
          <label for="case-status">改为</label>
          <select id="case-status" value={chosen} onChange={(e) => setStatus(e.currentTarget.value)}>
            {choices.map((s) => (
              <option key={s} value={s}>
                {caseStatusName(s)}
                {s === "recovered" || s === "excluded" ? "（须另一名工作人员审批）" : ""}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={busy}>
          提交变更
        </button>
      </div>
      <Notice text={done} />
    </form>
  );
}

function Contacts({ rows, diagnosedAt, more }: { rows: ContactRow[]; diagnosedAt: string | null; more: boolean }) {
  const venues = useVenues(rows);
  if (rows.length === 0) return <p class="empty">尚未发现接触者。</p>;
  const nameOf = (id: string) => venues.data.get(id)?.name ?? id;
  return (
    <>
      {more && <p class="muted">接触者较多，下列为前 500 人。</p>}
      <ContactTimeline rows={rows} diagnosedAt={diagnosedAt} />
      <VenuePlan rows={rows} venues={venues.data} loading={venues.loading} error={venues.error} />
      <Table
        caption="接触者明细"
        rows={rows}
        rowKey={(r) => r.person_id}
        empty="尚未发现接触者。"
        columns={[
          { key: "person", title: "人员编号", render: (r) => <a href={`#/official/persons/${encodeURIComponent(r.person_id)}`}>{r.person_id}</a> },
          { key: "kind", title: "类别", render: (r) => contactKindName(r.kind) },
          { key: "venue", title: "场所", render: (r) => nameOf(r.venue_id) },
          { key: "at", title: "暴露时间", render: (r) => chinaDateTime(r.exposure_at) },
          { key: "overlap", title: "重叠时长", render: (r) => `${Math.round(r.overlap_minutes)} 分钟` },
          { key: "generation", title: "代际", render: (r) => (r.generation === 2 ? `第二代（经 ${r.via ?? "—"}）` : "第一代") },
        ]}
      />
    </>
  );
}

/** The venues of the contacts' exposures, read one by one (GET /v1/venues/{id}: officials of the area). */
function useVenues(rows: ContactRow[]) {
  const ids = [...new Set(rows.map((r) => r.venue_id))].slice(0, PLAN_VENUES);
  const key = ids.join(",");
  const [data, setData] = useState<Map<string, VenueAnswer>>(new Map());
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (ids.length === 0) return;
    let live = true;
    setLoading(true);
    Promise.allSettled(ids.map((id) => api<VenueAnswer>(`/v1/venues/${encodeURIComponent(id)}`))).then((answers) => {
      if (!live) return;
      const found = new Map<string, VenueAnswer>();
      answers.forEach((a) => a.status === "fulfilled" && found.set(a.value.venue_id, a.value));
      const refused = answers.find((a) => a.status === "rejected");
      setError(refused && refused.status === "rejected" ? refused.reason : null);
      setData(found);
      setLoading(false);
    });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return { data, loading, error };
}

const TIMELINE = { width: 1120, left: 150, right: 20, rowHeight: 18, top: 28 };
const TIMELINE_ROWS = 60;

function ContactTimeline({ rows, diagnosedAt }: { rows: ContactRow[]; diagnosedAt: string | null }) {
  const shown = [...rows].sort((a, b) => Date.parse(a.exposure_at) - Date.parse(b.exposure_at)).slice(0, TIMELINE_ROWS);
  const layout = timelineLayout(shown, { ...TIMELINE, diagnosedAt });
  const title = `接触者时间轴：${rows.length} 人的暴露时段${rows.length > shown.length ? `（显示最早的 ${shown.length} 人）` : ""}`;
  return (
    <figure class="figure">
      <ul class="legend" aria-label="图例">
        <li>
          <span class="legend-swatch swatch-close" aria-hidden="true" />
          红色：密切接触者
        </li>
        <li>
          <span class="legend-swatch swatch-secondary" aria-hidden="true" />
          黄色：次密切接触者
        </li>
        <li>
          <span class="legend-swatch swatch-diagnosed" aria-hidden="true" />
          黑色虚线：诊断时间
        </li>
      </ul>
      <svg viewBox={`0 0 ${TIMELINE.width} ${layout.height}`} role="img" aria-label={title}>
        {layout.ticks.map((tick) => (
          <g key={tick.at}>
            <line class="grid-line" x1={tick.x} x2={tick.x} y1={TIMELINE.top - 6} y2={layout.height} />
            <text class="axis-text" x={tick.x} y={14} text-anchor="middle">
              {chinaDateTime(new Date(tick.at)).slice(5)}
            </text>
          </g>
        ))}
        {layout.bars.map((bar) => (
          <g key={bar.row.person_id}>
            <text class="row-text" x={TIMELINE.left - 6} y={bar.y + 12} text-anchor="end">
              {`${contactKindName(bar.row.kind).replace("者", "")} ${bar.row.person_id.slice(0, 10)}`}
            </text>
            <rect class={bar.row.kind === "close" ? "bar-close" : "bar-secondary"} x={bar.x} y={bar.y + 3} width={bar.width} height={TIMELINE.rowHeight - 6} rx={2}>
              <title>{`${contactKindName(bar.row.kind)}，${chinaDateTime(bar.row.exposure_at)} 起重叠 ${Math.round(bar.row.overlap_minutes)} 分钟`}</title>
            </rect>
          </g>
        ))}
        {layout.diagnosedX !== null && (
          <line class="diagnosed-line" x1={layout.diagnosedX} x2={layout.diagnosedX} y1={TIMELINE.top - 6} y2={layout.height} />
        )}
      </svg>
      <figcaption>{title}。横轴为北京时间；条形长度为与病例的重叠时长。明细见下表。</figcaption>
    </figure>
  );
}

const PLAN = { width: 1120, height: 420, margin: 70 };

function VenuePlan(props: { rows: ContactRow[]; venues: Map<string, VenueAnswer>; loading: boolean; error: unknown }) {
  if (props.loading && props.venues.size === 0) return <Spinner label="正在读取场所位置…" />;
  const counts = new Map<string, number>();
  for (const row of props.rows) counts.set(row.venue_id, (counts.get(row.venue_id) ?? 0) + 1);
  const placed: PlanVenue[] = [...props.venues.values()]
    .filter((v) => v.location)
    .map((v) => ({
      venue_id: v.venue_id,
      name: v.name,
      lat: v.location!.lat,
      lng: v.location!.lng,
      contacts: counts.get(v.venue_id) ?? 0,
      root_venue_id: v.root_venue_id,
    }));
  const plan = planLayout(placed, PLAN);
  const at = new Map(plan.points.map((p) => [p.venue.venue_id, p]));
  const title = `场所示意图：${plan.points.length} 个场所，圆圈大小表示在该场所发现的接触者人数`;
  return (
    <figure class="figure">
      <ErrorBanner error={props.error} />
      {plan.points.length === 0 ? (
        <p class="empty">没有可绘制的场所位置。</p>
      ) : (
        <svg viewBox={`0 0 ${PLAN.width} ${PLAN.height}`} role="img" aria-label={title}>
          {plan.points.map((p) => {
            const root = p.venue.root_venue_id && p.venue.root_venue_id !== p.venue.venue_id ? at.get(p.venue.root_venue_id) : undefined;
            return root ? <line key={`link-${p.venue.venue_id}`} class="plan-link" x1={root.x} y1={root.y} x2={p.x} y2={p.y} /> : null;
          })}
          {plan.points.map((p) => (
            <g key={p.venue.venue_id}>
              <circle class="plan-venue" cx={p.x} cy={p.y} r={p.r} />
              <text class="plan-text" x={p.x} y={p.y + p.r + 14} text-anchor="middle">
                {`${p.venue.name}（${p.venue.contacts} 人）`}
              </text>
            </g>
          ))}
          <text class="axis-text" x={PLAN.width - 16} y={24} text-anchor="end">
            ↑ 北
          </text>
          {plan.scale && (
            <g>
              <line class="plan-scale" x1={16} x2={16 + plan.scale.px} y1={PLAN.height - 16} y2={PLAN.height - 16} />
              <text class="axis-text" x={16} y={PLAN.height - 22}>
                {plan.scale.metres >= 1000 ? `${plan.scale.metres / 1000} 千米` : `${plan.scale.metres} 米`}
              </text>
            </g>
          )}
        </svg>
      )}
      <figcaption>{title}。按场所登记坐标绘制（示意，不含地图）；同一位置的场所绕其位置排开，虚线连接同一综合体。</figcaption>
    </figure>
  );
}

