/** 登记场所: `POST /v1/venues` (a vehicle under its licence plate; a store inside a complex with
 * the complex's join code). One idempotency key per registration, kept while retrying it. */
import { useState } from "preact/hooks";
import { api, newIdempotencyKey } from "../../lib/api";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { navigate } from "../../lib/router";
import { bannerError } from "./parts";
import { FORM_FIELDS, VenueFields } from "./VenueFields";
import { EMPTY_FORM, registrationBody, type VenueFormValues } from "./venueForm";

export function RegisterVenue() {
  const [values, setValues] = useState<VenueFormValues>(EMPTY_FORM);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [key, setKey] = useState(newIdempotencyKey);
  const change = (next: VenueFormValues) => {
    setValues(next);
    setKey(newIdempotencyKey()); // another body is another registration
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    let body: Record<string, unknown>;
    try {
      body = registrationBody(values);
    } catch (refusal) {
      setError(refusal);
      return;
    }
    setBusy(true);
    try {
      const created = await api<{ venue_id: string; code: string }>("/v1/venues", { body, idempotencyKey: key });
      navigate(`/manager/venues/${encodeURIComponent(created.venue_id)}?registered=1`);
    } catch (refusal) {
      setError(refusal);
      setBusy(false);
    }
  };
  return (
    <form class="mgr-form" onSubmit={submit} noValidate>
      <p class="mgr-muted">带“选填”的可以不填；其余各项均须填写。登记后即生成场所码海报。</p>
      <ErrorBanner error={bannerError(error, FORM_FIELDS)} />
      <VenueFields values={values} onChange={change} error={error} mode="register" />
      <div class="mgr-actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "正在提交…" : "提交登记"}
        </button>
        <a href="#/manager/venues">返回我的场所</a>
      </div>
    </form>
  );
}
