import { useState } from "preact/hooks";
import { api } from "../../lib/api";
import type { Session } from "../../lib/auth";
import { BarChart } from "../../lib/components/BarChart";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Pager } from "../../lib/components/Pager";
import { Table } from "../../lib/components/Table";
import { config } from "../../lib/config";
import { chinaDateTime } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { csvFileName, joinCsvPages } from "./csv";
import { chinaToday, duration, percent } from "./dates";
import { causeName } from "./labels";
import { Facts, Loaded, Notice, useCursors } from "./parts";
import type { DistributionBucket } from "./charts";
import { TimelinessChart, TimelinessHistogram } from "./TimelinessChart";

/** The region a report starts on: the caller's area, else the province. */
function defaultRegion(session: Session): string {
  return session.region ?? config().province;
}

/** A region code typed in full, then taken (on change: leaving the field or Enter). What is
 * being typed stays in the field's own state, so a report answering meanwhile never resets it. */
function RegionField({ id, value, onChange }: { id: string; value: string; onChange: (value: string) => void }) {
  const [draft, setDraft] = useState(value);
  return (
    <div class="field">
      <label for={id}>地区（行政区划代码）</label>
      <input
        id={id}
        required
        inputMode="numeric"
        pattern="[0-9]{6}"
        value={draft}
        onInput={(e) => setDraft(e.currentTarget.value)}
        onChange={(e) => onChange(e.currentTarget.value.trim())}
      />
    </div>
  );
}

interface Unit {
  venue_id: string;
  name: string;
  region_code: string;
  scans: number;
  abnormal: number;
}

interface DailyScansAnswer {
  date: string;
  region_code: string;
  region_name?: string;
  due_at: string;
  total_scans?: number;
  total_abnormal?: number;
  units: Unit[];
  next_cursor: string | null;
}

/** 每日扫码: every unit of the area with its scans of a China day, paged; the CSV download joins
 * every page of the day (the API names the next page in X-Next-Cursor). */
export function DailyScans({ session }: { session: Session }) {
  const [date, setDate] = useState(chinaToday());
  const [region, setRegion] = useState(defaultRegion(session));
  const pages = useCursors();
  const { data, error, loading, reload } = useApi<DailyScansAnswer>("/v1/reports/daily-scans", {
    query: { date, region_code: region, cursor: pages.cursor, limit: 100 },
  });
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const download = async () => {
    setDownloading(true);
    setDownloadError(null);
    try {
      const texts: string[] = [];
      let cursor: string | null = null;
      do {
        let following: string | null = null;
        const page: Blob = await api<Blob>("/v1/reports/daily-scans", {
          query: { date, region_code: region, format: "csv", limit: 500, cursor },
          blob: true,
          onHeaders: (headers) => {
            following = headers.get("X-Next-Cursor");
          },
        });
        texts.push(await page.text());
        cursor = following;
      } while (cursor);
      const url = URL.createObjectURL(new Blob([joinCsvPages(texts)], { type: "text/csv;charset=utf-8" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = csvFileName(region, date);
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setDone(`已下载 ${csvFileName(region, date)}（${texts.length} 页）。`);
    } catch (e) {
      setDownloadError(e);
    } finally {
      setDownloading(false);
    }
  };
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="daily-date">日期</label>
          <input
            id="daily-date"
            type="date"
            value={date}
            onInput={(e) => {
              pages.reset();
              setDate(e.currentTarget.value);
            }}
          />
        </div>
        <RegionField
          id="daily-region"
          value={region}
          onChange={(value) => {
            pages.reset();
            setRegion(value);
          }}
        />
        <button type="button" class="primary" disabled={downloading || Boolean(error)} onClick={download}>
          {downloading ? "正在下载…" : "下载 CSV（全天全部场所）"}
        </button>
      </form>
      <ErrorBanner error={downloadError} />
      <Notice text={done} />
      <Loaded loading={loading && !data} error={error} onRetry={reload}>
        {() =>
          data && (
            <>
              <Facts
                rows={[
                  ["地区", `${data.region_name ?? ""} ${data.region_code}`],
                  ["日期", data.date],
                  ["扫码总数", String(data.total_scans ?? "—")],
                  ["异常总数", String(data.total_abnormal ?? "—")],
                  ["报送时间", chinaDateTime(data.due_at)],
                ]}
              />
              <table class="table">
                <caption>{`${data.date} 各场所扫码数`}</caption>
                <thead>
                  <tr>
                    <th scope="col">场所</th>
                    <th scope="col">地区</th>
                    <th scope="col" class="num">
                      扫码
                    </th>
                    <th scope="col" class="num">
                      异常
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.units.length === 0 ? (
                    <tr>
                      <td colSpan={4} class="empty">
                        该地区没有登记场所。
                      </td>
                    </tr>
                  ) : (
                    data.units.map((u) => (
                      <tr key={u.venue_id}>
                        <td>{u.name}</td>
                        <td>{u.region_code}</td>
                        <td class="num">{u.scans}</td>
                        <td class="num">{u.abnormal}</td>
                      </tr>
                    ))
                  )}
                </tbody>
              </table>
              <Pager hasPrevious={pages.hasPrevious} nextCursor={data.next_cursor} onPrevious={pages.previous} onNext={pages.next} />
            </>
          )
        }
      </Loaded>
    </>
  );
}

interface CoverageRegion {
  region_code: string;
  region_name: string;
  venues: number;
  entities: number;
  with_code: number;
  rate: number | null;
}

interface CoverageAnswer {
  region_code: string;
  region_name: string;
  venues: number;
  entities: number;
  with_code: number;
  rate: number | null;
  by_type: { type: string; label: string; requirement: string; venues: number }[];
  by_region: CoverageRegion[];
}

/** A coverage rate as the bar's value: percent with one decimal (no entities: 0, said in the table). */
export function coverageBars(rows: CoverageRegion[]): { label: string; value: number }[] {
  return rows.map((r) => ({ label: r.region_name || r.region_code, value: r.rate === null ? 0 : Math.round(r.rate * 1000) / 10 }));
}

/** 场所码覆盖率: against the market-entity register, for the region and each region one level down. */
export function Coverage({ session }: { session: Session }) {
  const [region, setRegion] = useState(defaultRegion(session));
  const { data, error, loading, reload } = useApi<CoverageAnswer>("/v1/reports/coverage", { query: { region_code: region } });
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <RegionField id="coverage-region" value={region} onChange={setRegion} />
      </form>
      <Loaded loading={loading && !data} error={error} onRetry={reload}>
        {() =>
          data && (
            <>
              <Facts
                rows={[
                  ["地区", `${data.region_name} ${data.region_code}`],
                  ["已赋码场所", String(data.venues)],
                  ["登记市场主体", String(data.entities)],
                  ["其中已有场所码", String(data.with_code)],
                  ["覆盖率", percent(data.rate)],
                ]}
              />
              {data.by_region.length === 0 ? (
                <p class="empty">没有下级地区。</p>
              ) : data.by_region.some((r) => r.rate !== null) ? (
                <div class="chart-box">
                  <BarChart title={`${data.region_name}各下级地区场所码覆盖率（%）`} bars={coverageBars(data.by_region)} />
                </div>
              ) : (
                <div class="chart-box">
                  <p class="muted">尚未导入市场主体登记，无法计算覆盖率；下图为各下级地区已赋码场所数。</p>
                  <BarChart
                    title={`${data.region_name}各下级地区已赋码场所数`}
                    bars={data.by_region.map((r) => ({ label: r.region_name || r.region_code, value: r.venues }))}
                  />
                </div>
              )}
              <Table
                caption="各下级地区覆盖情况"
                rows={data.by_region}
                rowKey={(r) => r.region_code}
                empty="没有下级地区。"
                columns={[
                  { key: "name", title: "地区", render: (r) => `${r.region_name} ${r.region_code}` },
                  { key: "venues", title: "已赋码场所", render: (r) => r.venues },
                  { key: "entities", title: "登记市场主体", render: (r) => r.entities },
                  { key: "with", title: "已有场所码", render: (r) => r.with_code },
                  { key: "rate", title: "覆盖率", render: (r) => (r.rate === null ? "—（无登记主体）" : percent(r.rate)) },
                ]}
              />
              <Table
                caption="按场所类型"
                rows={data.by_type}
                rowKey={(t) => t.type}
                empty="还没有场所。"
                columns={[
                  { key: "label", title: "类型", render: (t) => t.label },
                  { key: "requirement", title: "要求", render: (t) => ({ mandatory: "必须扫码", encouraged: "鼓励扫码" })[t.requirement] ?? t.requirement },
                  { key: "venues", title: "场所数", render: (t) => t.venues },
                ]}
              />
            </>
          )
        }
      </Loaded>
    </>
  );
}

interface Timeliness {
  count: number;
  p50_seconds: number | null;
  p95_seconds: number | null;
  max_seconds: number | null;
  /** Changes per bucket of delay, ≤10 s … over 24 h (docs/api.md). */
  distribution: DistributionBucket[];
}

interface IndicatorsAnswer {
  region_code: string;
  from: string;
  to: string;
  application_rate: number | null;
  persons: number;
  population: number | null;
  verification_rate: { mandatory_scan_share: number | null; active_mandatory_venue_share: number | null; scans: number };
  data_accuracy: { refused_share: number | null; complete_record_share: number | null; attempts: number };
  colour_change_timeliness: Timeliness & { by_cause: Record<string, Timeliness> };
}

/** 考核指标: the province's assessment figures over a span of China days, with the colour-change
 * timeliness of each cause on one axis. */
export function Indicators({ session }: { session: Session }) {
  const today = chinaToday();
  const [region, setRegion] = useState(defaultRegion(session));
  const [from, setFrom] = useState(today);
  const [to, setTo] = useState(today);
  const { data, error, loading, reload } = useApi<IndicatorsAnswer>("/v1/reports/indicators", {
    query: { region_code: region, from, to },
  });
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <RegionField id="indicators-region" value={region} onChange={setRegion} />
        <div class="field">
          <label for="indicators-from">起始日期</label>
          <input id="indicators-from" type="date" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="indicators-to">截止日期（最多 31 天）</label>
          <input id="indicators-to" type="date" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </div>
      </form>
      <Loaded loading={loading && !data} error={error} onRetry={reload}>
        {() => {
          if (!data) return null;
          const t = data.colour_change_timeliness;
          const rows = [
            { label: "全部", figures: t },
            ...Object.entries(t.by_cause).map(([cause, figures]) => ({ label: causeName(cause), figures })),
          ];
          return (
            <>
              <Facts
                rows={[
                  ["地区", data.region_code],
                  ["统计期", `${data.from} 至 ${data.to}`],
                  ["申领率", percent(data.application_rate)],
                  ["申领人数 / 人口", `${data.persons} / ${data.population ?? "—"}`],
                  ["必扫场所扫码占比", percent(data.verification_rate.mandatory_scan_share)],
                  ["活跃必扫场所占比", percent(data.verification_rate.active_mandatory_venue_share)],
                  ["扫码总数", String(data.verification_rate.scans)],
                  ["扫码被拒占比", percent(data.data_accuracy.refused_share)],
                  ["完整记录占比", percent(data.data_accuracy.complete_record_share)],
                ]}
              />
              <h2>变码及时性</h2>
              <p class="muted">从获知事实到健康码变色所用时间：{t.count} 次变码，中位数 {duration(t.p50_seconds)}，95% 在 {duration(t.p95_seconds)} 内，最长 {duration(t.max_seconds)}。</p>
              <TimelinessChart rows={rows} />
              <h3>用时分布</h3>
              <TimelinessHistogram rows={rows.map((row) => ({ label: row.label, buckets: row.figures.distribution ?? [] }))} />
            </>
          );
        }}
      </Loaded>
    </>
  );
}
