import { useState } from "preact/hooks";
import type { Session } from "../../lib/auth";
import { Pager } from "../../lib/components/Pager";
import { Table } from "../../lib/components/Table";
import { chinaDateTime } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { auditActionName } from "./labels";
import { Loaded, useCursors } from "./parts";

interface Entry {
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
}

/** What an entry's detail says, as `key: value` pairs (the API never puts personal data there). */
export function detailText(detail: Record<string, unknown>): string {
  const pairs = Object.entries(detail).map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  return pairs.length ? pairs.join("；") : "—";
}

/** 审计日志: the trail of a person, venue or held act, or an account's acts, newest first. Admins
 * read any; officials their area's subjects and their own acts only (the API answers 403 else).
 * Reading is itself audited. */
export function Audit({ session }: { session: Session }) {
  const [by, setBy] = useState<"subject" | "actor">("subject");
  const [draft, setDraft] = useState("");
  const [asked, setAsked] = useState<{ by: "subject" | "actor"; value: string } | null>(null);
  const pages = useCursors();
  const { data, error, loading, reload } = useApi<{ entries: Entry[]; next_cursor: string | null }>(asked ? "/v1/audit" : null, {
    query: asked ? { [asked.by]: asked.value, cursor: pages.cursor, limit: 50 } : {},
  });
  const submit = (event: Event) => {
    event.preventDefault();
    pages.reset();
    setAsked({ by, value: draft.trim() });
  };
  return (
    <>
      <form class="filters" onSubmit={submit} role="search" aria-label="查询审计日志">
        <div class="field">
          <label for="audit-by">查询方式</label>
          <select id="audit-by" value={by} onChange={(e) => setBy(e.currentTarget.value as typeof by)}>
            <option value="subject">对象（人员 p-…、场所 v-…、申请 req-…）</option>
            <option value="actor">操作账号</option>
          </select>
        </div>
        <div class="field">
          <label for="audit-value">{by === "subject" ? "对象编号" : "账号"}</label>
          <input id="audit-value" required value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        </div>
        <button type="submit" class="primary">
          查询
        </button>
        <button
          type="button"
          onClick={() => {
            setBy("actor");
            setDraft(session.sub);
          }}
        >
          我的操作
        </button>
      </form>
      <p class="muted">查询本身也记入审计日志。</p>
      {asked === null ? (
        <p class="empty">请输入对象编号或账号。</p>
      ) : (
        <Loaded loading={loading && !data} error={error} onRetry={reload}>
          {() => (
            <>
              <Table
                caption={`${asked.by === "subject" ? "对象" : "账号"} ${asked.value} 的审计记录（最新在前）`}
                rows={data?.entries ?? []}
                rowKey={(e) => `${e.at}-${e.action}-${e.actor}-${e.subject}`}
                empty="没有审计记录。"
                columns={[
                  { key: "at", title: "时间", render: (e) => chinaDateTime(e.at) },
                  { key: "actor", title: "操作账号", render: (e) => e.actor },
                  { key: "action", title: "操作", render: (e) => auditActionName(e.action) },
                  { key: "subject", title: "对象", render: (e) => e.subject },
                  { key: "detail", title: "详情", render: (e) => detailText(e.detail) },
                ]}
              />
              <Pager hasPrevious={pages.hasPrevious} nextCursor={data?.next_cursor} onPrevious={pages.previous} onNext={pages.next} />
            </>
          )}
        </Loaded>
      )}
    </>
  );
}
