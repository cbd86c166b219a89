/** 我的场所: the caller's own venues (`GET /v1/venues`, a venue manager sees only theirs),
 * narrowed by status and type, paged by the API's signed cursor. */
import { useState } from "preact/hooks";
import { Pager } from "../../lib/components/Pager";
import { type Column, Table } from "../../lib/components/Table";
import { useApi } from "../../lib/useApi";
import { labelOf, MANAGER_VENUE_TYPES, STATUS_LABELS, VENUE_TYPE_LABELS } from "./labels";
import { Loaded, useCursors } from "./parts";

export interface ListedVenue {
  venue_id: string;
  name: string;
  type: string;
  address: string;
  region_code: string;
  parent_venue_id: string | null;
  zone: string | null;
  store_number: string | null;
  status: "active" | "closed";
}

const PAGE_SIZE = 20;

const columns: Column<ListedVenue>[] = [
  { key: "name", title: "场所名称", render: (v) => <a href={`#/manager/venues/${encodeURIComponent(v.venue_id)}`}>{v.name}</a> },
  { key: "type", title: "类型", render: (v) => labelOf(VENUE_TYPE_LABELS, v.type) },
  { key: "address", title: "地址", render: (v) => v.address },
  { key: "region", title: "区县代码", render: (v) => v.region_code },
  {
    key: "parent",
    title: "所属综合体",
    render: (v) => (v.parent_venue_id ? <code>{v.parent_venue_id}</code> : "—"),
  },
  { key: "zone", title: "分区 / 门店编号", render: (v) => [v.zone, v.store_number].filter(Boolean).join(" / ") || "—" },
  { key: "status", title: "状态", render: (v) => <span class={`mgr-status mgr-status-${v.status}`}>{labelOf(STATUS_LABELS, v.status)}</span> },
];

export function Venues() {
  const [status, setStatus] = useState("");
  const [type, setType] = useState("");
  const pages = useCursors();
  const { data, error, loading, reload } = useApi<{ venues: ListedVenue[]; next_cursor: string | null }>("/v1/venues", {
    query: { status, type, limit: PAGE_SIZE, cursor: pages.cursor },
  });
  const filter = (apply: () => void) => {
    apply();
    pages.reset();
  };
  return (
    <div class="mgr-list">
      <p class="mgr-actions">
        <a class="mgr-button" href="#/manager/register">
          登记新场所
        </a>
      </p>
      <form class="mgr-filters" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="venue-status">状态</label>
          <select id="venue-status" value={status} onChange={(e) => filter(() => setStatus(e.currentTarget.value))}>
            <option value="">全部</option>
            <option value="active">使用中</option>
            <option value="closed">已关闭</option>
          </select>
        </div>
        <div class="field">
          <label for="venue-type">类型</label>
          <select id="venue-type" value={type} onChange={(e) => filter(() => setType(e.currentTarget.value))}>
            <option value="">全部类型</option>
            {MANAGER_VENUE_TYPES.map((t) => (
              <option key={t} value={t}>
                {VENUE_TYPE_LABELS[t]}
              </option>
            ))}
          </select>
        </div>
      </form>
      <Loaded loading={loading} error={error} onRetry={reload}>
        {() => (
          <>
            <Table
              caption="我管理的场所"
              columns={columns}
              rows={data?.venues ?? []}
              rowKey={(v) => v.venue_id}
              empty={status || type ? "没有符合条件的场所。" : "您还没有登记场所。点击“登记新场所”开始。"}
            />
            <Pager hasPrevious={pages.hasPrevious} nextCursor={data?.next_cursor} onPrevious={pages.previous} onNext={pages.next} />
          </>
        )}
      </Loaded>
    </div>
  );
}
