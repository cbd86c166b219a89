import { useState } from "preact/hooks";
import { api, ApiError } from "../../lib/api";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field, fieldError } from "../../lib/components/Field";
import { currentPath, navigate } from "../../lib/router";
import { chinaInstant, chinaLocalInput } from "./dates";
import { CASE_REPORT_STATUSES, caseStatusName } from "./labels";
import { heldText, isHeld, Notice } from "./parts";

const CASE_FIELDS = ["person_id", "id_number", "status", "diagnosed_at"];

/** `?person_id=` after the hash path (a link from a person's record or a search result). */
export function queryParam(path: string, name: string): string | null {
  const query = path.split("?")[1];
  return query ? new URLSearchParams(query).get(name) : null;
}

/** 病例: report a case (by person id or ID number; the person turns red at once and tracing
 * starts, or the act waits for a second official past the hourly limit), or open a case by id. */
export function Cases() {
  const preset = queryParam(currentPath(), "person_id");
  const [by, setBy] = useState<"person_id" | "id_number">(preset ? "person_id" : "id_number");
  const [who, setWho] = useState(preset ?? "");
  const [status, setStatus] = useState("confirmed");
  const [diagnosed, setDiagnosed] = useState(chinaLocalInput(new Date()));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const [caseId, setCaseId] = useState("");
  const report = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const answer = await api<{ case_id: string } | { request_id: string; status: "pending_approval" }>("/v1/cases", {
        body: { [by]: who.trim(), status, diagnosed_at: chinaInstant(diagnosed) ?? diagnosed },
      });
      if (isHeld(answer)) setDone(heldText(answer));
      else navigate(`/official/cases/${encodeURIComponent((answer as { case_id: string }).case_id)}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const onField = error instanceof ApiError && CASE_FIELDS.some((name) => fieldError(error, name));
  return (
    <>
      <form class="panel" onSubmit={report} aria-labelledby="case-new-title">
        <h2 id="case-new-title">上报病例</h2>
        <p class="muted">上报后此人立即转为红码并开始流调；超过每小时赋码上限时须另一名工作人员审批。</p>
        {!onField && <ErrorBanner error={error} />}
        <div class="form-grid">
          <div class="field">
            <label for="case-by">按</label>
            <select id="case-by" value={by} onChange={(e) => setBy(e.currentTarget.value as typeof by)}>
              <option value="id_number">居民身份证号码</option>
              <option value="person_id">人员编号</option>
            </select>
          </div>
          <Field name={by} label={by === "person_id" ? "人员编号" : "身份证号码"} error={error}>
            {(attributes) => <input {...attributes} required autocomplete="off" value={who} onInput={(e) => setWho(e.currentTarget.value)} />}
          </Field>
          <Field name="status" label="诊断类别" error={error}>
            {(attributes) => (
              <select {...attributes} value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
                {CASE_REPORT_STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {caseStatusName(s)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field name="diagnosed_at" label="诊断时间（北京时间）" error={error}>
            {(attributes) => (
              <input {...attributes} type="datetime-local" required value={diagnosed} onInput={(e) => setDiagnosed(e.currentTarget.value)} />
            )}
          </Field>
        </div>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "提交中…" : "上报病例"}
        </button>
        <Notice text={done} />
      </form>
      <form
        class="panel filters"
        aria-labelledby="case-open-title"
        onSubmit={(e) => {
          e.preventDefault();
          if (caseId.trim()) navigate(`/official/cases/${encodeURIComponent(caseId.trim())}`);
        }}
      >
        <h2 id="case-open-title" class="visually-hidden">
          打开病例
        </h2>
        <div class="field">
          <label for="case-open-id">病例编号</label>
          <input id="case-open-id" required value={caseId} onInput={(e) => setCaseId(e.currentTarget.value)} />
        </div>
        <button type="submit">打开病例</button>
      </form>
    </>
  );
}
