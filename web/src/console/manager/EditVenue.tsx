/** 修改登记: `PATCH /v1/venues/{id}` with only what changed — correct the registration or
 * complete its credential (补全). A change of what the poster shows (name, address) makes the
 * API issue a new venue code and revoke the old one: the page says so and links the poster. */
import { useState } from "preact/hooks";
import { api } from "../../lib/api";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { bannerError, Notice, VenueFrame } from "./parts";
import { FORM_FIELDS, VenueFields } from "./VenueFields";
import { changeBody, formFromVenue, needsCredential, type Venue, type VenueFormValues } from "./venueForm";

export function EditVenue({ venueId }: { venueId: string }) {
  return <VenueFrame venueId={venueId} section="/edit">{(venue, reload) => <EditForm venue={venue} onSaved={reload} />}</VenueFrame>;
}

function EditForm({ venue, onSaved }: { venue: Venue; onSaved: () => void }) {
  const [values, setValues] = useState<VenueFormValues>(() => formFromVenue(venue));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<Venue & { code_reissued: boolean } | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setSaved(null);
    let body: Record<string, unknown>;
    try {
      body = changeBody(venue, values);
    } catch (refusal) {
      setError(refusal);
      return;
    }
    setBusy(true);
    try {
      const answer = await api<Venue & { code_reissued: boolean }>(`/v1/venues/${encodeURIComponent(venue.venue_id)}`, { method: "PATCH", body });
      setSaved(answer);
      setValues(formFromVenue(answer));
      onSaved();
    } catch (refusal) {
      setError(refusal);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="mgr-form" onSubmit={submit} noValidate>
      <Notice
        text={
          saved &&
          (saved.code_reissued ? (
            <>
              已保存。名称或地址已变更，系统已生成新的场所码，旧海报即刻失效，请
              <a href={`#/manager/venues/${encodeURIComponent(venue.venue_id)}/poster`}>重新打印海报</a>。
            </>
          ) : (
            "已保存。"
          ))
        }
      />
      {needsCredential(venue) && (
        <div class="mgr-warning" role="note">
          <strong>请补全：</strong>填写主体名称、证照类型和证照号码后保存。
        </div>
      )}
      <p class="mgr-muted">场所类型、所在区县和所属综合体不能修改；场所迁址请重新登记。</p>
      <ErrorBanner error={bannerError(error, FORM_FIELDS)} />
      <VenueFields
        values={values}
        onChange={setValues}
        error={error}
        mode="edit"
        masked={{ phone: venue.manager_phone_masked, credential: venue.credential_masked }}
      />
      <div class="mgr-actions">
        <button type="submit" class="primary" disabled={busy || venue.status === "closed"}>
          {busy ? "正在保存…" : "保存修改"}
        </button>
      </div>
    </form>
  );
}
