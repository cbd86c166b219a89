import { useState } from "preact/hooks";
import { api, ApiError, newIdempotencyKey } from "../../lib/api";
import { ColourBadge } from "../../lib/components/ColourBadge";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field, fieldError } from "../../lib/components/Field";
import { chinaDateTime } from "../../lib/format";
import { colourName } from "../../lib/colour";
import { useApi } from "../../lib/useApi";
import { chinaInstant } from "./dates";
import { idTypeName, OVERRIDE_REASONS } from "./labels";
import { Facts, Loaded, Notice } from "./parts";

interface PersonRecordAnswer {
  person_id: string;
  name: string;
  id_number: string;
  id_type: string;
  nationality: string | null;
  phone: string | null;
  address: string | null;
  region_code: string;
  colour: string;
  risk_level: number;
  reasons: { code: string; text: string; until: string | null }[];
  next_change_at: string | null;
  created_at: string;
}

/** 人员档案: the full record (the read is audited by the API), and the manual colour change an
 * official requests from it (it takes effect only when a different official approves). */
export function PersonRecord({ personId }: { personId: string }) {
  const { data, error, loading, reload } = useApi<PersonRecordAnswer>(`/v1/persons/${encodeURIComponent(personId)}`);
  return (
    <Loaded loading={loading} error={error} onRetry={reload}>
      {() =>
        data && (
          <>
            <p class="muted">本次查看已记入审计日志。</p>
            <Facts
              rows={[
                ["姓名", data.name],
                ["证件", `${idTypeName(data.id_type)} ${data.id_number}${data.nationality ? `（${data.nationality}）` : ""}`],
                ["电话", data.phone ?? "—"],
                ["地址", data.address ?? "—"],
                ["地区", data.region_code],
                ["健康码", <ColourBadge colour={data.colour} />],
                ["下次变码", data.next_change_at ? chinaDateTime(data.next_change_at) : "—"],
                ["人员编号", data.person_id],
              ]}
            />
            <h2>赋码原因</h2>
            {data.reasons.length === 0 ? (
              <p class="empty">无异常事实。</p>
            ) : (
              <ul>
                {data.reasons.map((r) => (
                  <li key={`${r.code}-${r.until}`}>
                    {r.text}
                    {r.until ? `（至 ${chinaDateTime(r.until)}）` : ""}
                  </li>
                ))}
              </ul>
            )}
            <p class="actions">
              <a href={`#/official/cases?person_id=${encodeURIComponent(data.person_id)}`}>为此人上报病例</a>
            </p>
            <OverrideRequest personId={data.person_id} />
          </>
        )
      }
    </Loaded>
  );
}

const OVERRIDE_FIELDS = ["colour", "reason_code", "evidence_ref", "note", "until"];

function OverrideRequest({ personId }: { personId: string }) {
  const [colour, setColour] = useState("green");
  const [reason, setReason] = useState("released_from_quarantine");
  const [evidence, setEvidence] = useState("");
  const [note, setNote] = useState("");
  const [until, setUntil] = useState("");
  const [key, setKey] = useState(newIdempotencyKey());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, string> = { colour, reason_code: reason, evidence_ref: evidence.trim() };
    if (note.trim()) body.note = note.trim();
    const instant = chinaInstant(until);
    if (instant) body.until = instant;
    try {
      const answer = await api<{ override_id: string }>(`/v1/persons/${encodeURIComponent(personId)}/colour`, {
        method: "PUT",
        body,
        idempotencyKey: key,
      });
      setDone(`改码申请已提交（编号 ${answer.override_id}），须由另一名工作人员在“改码审批”中批准后生效。`);
      setKey(newIdempotencyKey());
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const onField = error instanceof ApiError && OVERRIDE_FIELDS.some((name) => fieldError(error, name));
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="override-title">
      <h2 id="override-title">申请人工改码</h2>
      <p class="muted">双人复核：申请人不能批准自己的申请；批准前不改变任何人的健康码。</p>
      {!onField && <ErrorBanner error={error} />}
      <div class="form-grid">
        <Field name="colour" label="改为" error={error}>
          {(attributes) => (
            <select {...attributes} value={colour} onChange={(e) => setColour(e.currentTarget.value)}>
              {["green", "yellow", "red"].map((c) => (
                <option key={c} value={c}>
                  {colourName(c)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field name="reason_code" label="原因" error={error}>
          {(attributes) => (
            <select {...attributes} value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
              {Object.entries(OVERRIDE_REASONS).map(([code, name]) => (
                <option key={code} value={code}>
                  {name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field name="evidence_ref" label="依据编号（如解除隔离通知书编号）" error={error}>
          {(attributes) => (
            <input {...attributes} required maxLength={200} value={evidence} onInput={(e) => setEvidence(e.currentTarget.value)} />
          )}
        </Field>
        <Field name="until" label="有效至（可选，北京时间）" error={error}>
          {(attributes) => <input {...attributes} type="datetime-local" value={until} onInput={(e) => setUntil(e.currentTarget.value)} />}
        </Field>
      </div>
      <Field name="note" label="说明（可选）" error={error}>
        {(attributes) => <textarea {...attributes} maxLength={500} value={note} onInput={(e) => setNote(e.currentTarget.value)} />}
      </Field>
      <button type="submit" class="primary" disabled={busy}>
        提交改码申请
      </button>
      <Notice text={done} />
    </form>
  );
}
