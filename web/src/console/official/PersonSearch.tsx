import { useState } from "preact/hooks";
import { api, ApiError } from "../../lib/api";
import type { Session } from "../../lib/auth";
import { ColourBadge } from "../../lib/components/ColourBadge";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field, fieldError } from "../../lib/components/Field";
import { Spinner } from "../../lib/components/Spinner";
import { Table } from "../../lib/components/Table";
import { masked } from "../../lib/format";
import { ID_TYPES, idTypeName } from "./labels";

export interface FoundPerson {
  person_id: string;
  name_masked: string;
  id_masked: string;
  colour: string;
  risk_level: number;
  region_code: string;
}

const SEARCH_FIELDS = ["id_number", "id_type", "nationality"];

/** 人员查询: by ID number in the body (never the address), inside the caller's area only; the
 * API answers the same empty list for a number nobody holds and for a person elsewhere. */
export function PersonSearch({ session }: { session: Session }) {
  const [idType, setIdType] = useState("resident_id");
  const [idNumber, setIdNumber] = useState("");
  const [nationality, setNationality] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [found, setFound] = useState<FoundPerson[] | null>(null);
  const official = session.roles.includes("official");
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setFound(null);
    const body: Record<string, string> = { id_number: idNumber.trim(), id_type: idType };
    if (idType === "passport") body.nationality = nationality.trim().toUpperCase();
    try {
      setFound((await api<{ persons: FoundPerson[] }>("/v1/persons/search", { body })).persons);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const onField = error instanceof ApiError && SEARCH_FIELDS.some((name) => fieldError(error, name));
  return (
    <>
      <form class="filters" onSubmit={submit} role="search" aria-label="按证件号码查询人员">
        <Field name="id_type" label="证件类型" error={error}>
          {(attributes) => (
            <select {...attributes} value={idType} onChange={(e) => setIdType(e.currentTarget.value)}>
              {ID_TYPES.map((t) => (
                <option key={t} value={t}>
                  {idTypeName(t)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field name="id_number" label="证件号码" error={error}>
          {(attributes) => (
            <input {...attributes} required autocomplete="off" value={idNumber} onInput={(e) => setIdNumber(e.currentTarget.value)} />
          )}
        </Field>
        {idType === "passport" && (
          <Field name="nationality" label="国籍（三位字母代码，如 USA）" error={error}>
            {(attributes) => (
              <input {...attributes} required maxLength={3} value={nationality} onInput={(e) => setNationality(e.currentTarget.value)} />
            )}
          </Field>
        )}
        <button type="submit" class="primary" disabled={busy}>
          查询
        </button>
      </form>
      <p class="muted">查询记入审计日志；辖区外的人员与不存在的号码一样查不到。</p>
      {!onField && <ErrorBanner error={error} />}
      {busy && <Spinner label="查询中…" />}
      {found && (
        <Table
          caption="查询结果"
          rows={found}
          rowKey={(p) => p.person_id}
          empty="辖区内没有持此证件号码的人员。"
          columns={[
            { key: "name", title: "姓名", render: (p) => masked(p.name_masked) },
            { key: "id", title: "证件号码", render: (p) => masked(p.id_masked) },
            { key: "region", title: "地区", render: (p) => p.region_code },
            { key: "colour", title: "健康码", render: (p) => <ColourBadge colour={p.colour} /> },
            {
              key: "open",
              title: "操作",
              render: (p) =>
                official ? (
                  <span class="actions">
                    <a href={`#/official/persons/${encodeURIComponent(p.person_id)}`}>查看档案（{masked(p.name_masked)}）</a>
                    <a href={`#/official/cases?person_id=${encodeURIComponent(p.person_id)}`}>上报病例</a>
                  </span>
                ) : (
                  <span class="muted">系统管理员不查看完整档案</span>
                ),
            },
          ]}
        />
      )}
    </>
  );
}
