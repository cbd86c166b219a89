import { useState } from "preact/hooks";
import { api, ApiError } from "../../lib/api";
import { ColourBadge } from "../../lib/components/ColourBadge";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field, fieldError } from "../../lib/components/Field";
import { Pager } from "../../lib/components/Pager";
import { chinaDateTime } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { appealStatusName } from "./labels";
import { Facts, Loaded, Notice, useCursors } from "./parts";

export interface Appeal {
  appeal_id: string;
  person_id: string;
  status: string;
  reason: string;
  colour: string | null;
  submitted_at: string;
  answer: string | null;
}

/** 申诉处理: open appeals of the area, oldest first, each answered upheld or dismissed. An upheld
 * appeal changes no colour by itself: the page points to the override a second official approves. */
export function Appeals() {
  const pages = useCursors();
  const { data, error, loading, reload } = useApi<{ appeals: Appeal[]; next: string | null }>("/v1/appeals", {
    query: { next: pages.cursor, limit: 50 },
  });
  const [done, setDone] = useState<string | null>(null);
  return (
    <>
      <div class="actions">
        <button type="button" onClick={reload}>
          刷新
        </button>
      </div>
      <Notice text={done} />
      <Loaded loading={loading && !data} error={error} onRetry={reload}>
        {() =>
          (data?.appeals ?? []).length === 0 ? (
            <p class="empty">没有待答复的申诉。</p>
          ) : (
            <>
              <ul class="cards" aria-label="待答复申诉">
                {data!.appeals.map((appeal) => (
                  <li key={appeal.appeal_id}>
                    <Answer
                      appeal={appeal}
                      onAnswered={(text) => {
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

function Answer({ appeal, onAnswered }: { appeal: Appeal; onAnswered: (text: string) => void }) {
  const [outcome, setOutcome] = useState("dismissed");
  const [answer, setAnswer] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answered = await api<Appeal>(`/v1/appeals/${encodeURIComponent(appeal.appeal_id)}/answer`, { body: { outcome, answer } });
      onAnswered(
        `申诉 ${appeal.appeal_id} 已答复：${appealStatusName(answered.status)}。` +
          (answered.status === "upheld" ? "如需改码，请在人员档案中提交改码申请，由另一名工作人员审批。" : ""),
      );
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  const prefix = `appeal-${appeal.appeal_id}`;
  return (
    <form onSubmit={submit} aria-label={`申诉 ${appeal.appeal_id}`}>
      <h2>申诉 {appeal.appeal_id}</h2>
      <Facts
        rows={[
          ["人员", <a href={`#/official/persons/${encodeURIComponent(appeal.person_id)}`}>{appeal.person_id}</a>],
          ["申诉时的健康码", appeal.colour ? <ColourBadge colour={appeal.colour} /> : "—"],
          ["提交时间", chinaDateTime(appeal.submitted_at)],
          ["状态", appealStatusName(appeal.status)],
        ]}
      />
      <p>
        <strong>申诉理由：</strong>
        {appeal.reason}
      </p>
      {!(error instanceof ApiError && (fieldError(error, "answer") || fieldError(error, "outcome"))) && <ErrorBanner error={error} />}
      <div class="form-grid">
        <Field name={`${prefix}-outcome`} label="结论" error={null}>
          {(attributes) => (
            <select {...attributes} value={outcome} onChange={(e) => setOutcome(e.currentTarget.value)}>
              <option value="upheld">申诉成立</option>
              <option value="dismissed">申诉驳回</option>
            </select>
          )}
        </Field>
      </div>
      <div class={`field${fieldError(error, "answer") ? " field-invalid" : ""}`}>
        <label for={`${prefix}-answer`}>答复内容（必填，将告知申诉人）</label>
        <textarea
          id={`${prefix}-answer`}
          required
          maxLength={500}
          value={answer}
          aria-invalid={Boolean(fieldError(error, "answer"))}
          aria-describedby={fieldError(error, "answer") ? `${prefix}-answer-error` : undefined}
          onInput={(e) => setAnswer(e.currentTarget.value)}
        />
        {fieldError(error, "answer") && (
          <p class="field-error" id={`${prefix}-answer-error`}>
            {fieldError(error, "answer")}
          </p>
        )}
      </div>
      <button type="submit" class="primary" disabled={busy}>
        提交答复
      </button>
    </form>
  );
}
