/** 申诉: contest the current colour and read the officials' answers (oldest first, as the API
 * lists them; shown newest first). */
import { useMemo, useState } from "preact/hooks";
import { api } from "../../lib/api";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field } from "../../lib/components/Field";
import { Spinner } from "../../lib/components/Spinner";
import { chinaDateTime } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { unplacedError } from "../application";
import { WriteKeys } from "../retry";
import { APPEAL_STATUS, w } from "../words";

interface Appeal {
  appeal_id: string;
  created_at: string;
  reason: string;
  status: string;
  answer: string | null;
  answered_at: string | null;
}

export function Appeals({ personId }: { personId: string }) {
  const path = `/v1/codes/${encodeURIComponent(personId)}/appeals`;
  const { data, error, loading, reload } = useApi<{ appeals: Appeal[] }>(path);
  const [reason, setReason] = useState("");
  const [sendError, setSendError] = useState<unknown>(null);
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const keys = useMemo(() => new WriteKeys(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setSendError(null);
    setSent(false);
    const body = { reason: reason.trim() };
    setBusy(true);
    try {
      await api(path, { body, idempotencyKey: keys.keyFor(body) });
      keys.done();
      setReason("");
      setSent(true);
      reload();
    } catch (e) {
      setSendError(e);
    } finally {
      setBusy(false);
    }
  };

  const appeals = [...(data?.appeals ?? [])].reverse();
  return (
    <div>
      <form class="form" onSubmit={submit} noValidate>
        <Field name="reason" label={w.appealReason} hint={w.appealHint} error={sendError}>
          {(a) => <textarea {...a} rows={4} maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
        </Field>
        <ErrorBanner error={unplacedError(sendError, ["reason"])} />
        {sent && (
          <p class="notice" role="status">
            {w.appealSent}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? w.submitting : w.submitAppeal}
        </button>
      </form>
      <section aria-labelledby="appeals-heading">
        <h2 id="appeals-heading">{w.myAppeals}</h2>
        {loading ? (
          <Spinner />
        ) : error ? (
          <ErrorBanner error={error} onRetry={reload} />
        ) : appeals.length === 0 ? (
          <p class="empty">{w.noAppeals}</p>
        ) : (
          <ul class="card-stack">
            {appeals.map((appeal) => (
              <li key={appeal.appeal_id} class="card">
                <p>
                  <strong>{APPEAL_STATUS[appeal.status] ?? appeal.status}</strong>
                  <span class="muted"> · {chinaDateTime(appeal.created_at)}</span>
                </p>
                <p>{appeal.reason}</p>
                <p>
                  {w.answer}：{appeal.answer ?? w.waiting}
                  {appeal.answered_at && <span class="muted">（{chinaDateTime(appeal.answered_at)}）</span>}
                </p>
              </li>
            ))}
          </ul>
        )}
      </section>
      <p class="links">
        <a href={`#/codes/${encodeURIComponent(personId)}`}>返回健康码</a>
      </p>
    </div>
  );
}
