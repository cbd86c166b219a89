/** 申领健康码: for oneself or a dependant. The page checks only what needs no rules; the API's
 * Chinese message for anything else appears beside the field it names (`error.field`). */
import { useMemo, useState } from "preact/hooks";
import { type ApiError, api } from "../../lib/api";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field } from "../../lib/components/Field";
import { navigate } from "../../lib/router";
import {
  type ApplicationForm,
  applicationBody,
  emptyApplication,
  errorFor,
  localProblems,
  shownApplicationFields,
  unplacedError,
} from "../application";
import { DocumentFields } from "../components/DocumentFields";
import { WriteKeys } from "../retry";
import { DEPENDANT_REASONS, SYMPTOM_NAMES, w } from "../words";


export function Apply() {
  const [form, setForm] = useState<ApplicationForm>(() => emptyApplication());
  const [problems, setProblems] = useState<ApiError[]>([]);
  const [answer, setAnswer] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const keys = useMemo(() => new WriteKeys(), []);
  const set = (patch: Partial<ApplicationForm>) => setForm((f) => ({ ...f, ...patch }));
  const err = (field: string) => errorFor(field, problems, answer);

  const submit = async (event: Event) => {
    event.preventDefault();
    const found = localProblems(form);
    setProblems(found);
    setAnswer(null);
    if (found.length > 0) {
      focusField(found[0].field);
      return;
    }
    const body = applicationBody(form);
    setBusy(true);
    try {
      const code = await api<{ person_id: string }>("/v1/codes", { body, idempotencyKey: keys.keyFor(body) });
      keys.done();
      navigate(`/codes/${encodeURIComponent(code.person_id)}`);
    } catch (error) {
      setAnswer(error);
      const field = (error as ApiError).field;
      if (field) focusField(field);
    } finally {
      setBusy(false);
    }
  };

  const toggleSymptom = (symptom: string, on: boolean) =>
    set({ symptoms: on ? [...form.symptoms, symptom] : form.symptoms.filter((s) => s !== symptom) });
  const setTrip = (index: number, patch: Partial<ApplicationForm["travel"][number]>) =>
    set({ travel: form.travel.map((trip, i) => (i === index ? { ...trip, ...patch } : trip)) });

  return (
    <form class="form" onSubmit={submit} noValidate>
      <ErrorBanner error={unplacedError(answer, shownApplicationFields(form))} />
      <fieldset>
        <legend>{w.applyFor}</legend>
        <label class="choice">
          <input type="radio" name="for" value="self" checked={form.forWhom === "self"} onChange={() => set({ forWhom: "self" })} />
          {w.forSelf}
        </label>
        <label class="choice">
          <input
            type="radio"
            name="for"
            value="dependant"
            checked={form.forWhom === "dependant"}
            onChange={() => set({ forWhom: "dependant" })}
          />
          {w.forDependant}
        </label>
      </fieldset>
      {form.forWhom === "dependant" && (
        <Field name="dependant_reason" label={w.dependantReason} hint={w.dependantReasonHint} error={err("dependant_reason") ?? err("dependant")}>
          {(a) => (
            <select {...a} value={form.dependantReason} onChange={(e) => set({ dependantReason: e.currentTarget.value as ApplicationForm["dependantReason"] })}>
              <option value="">（不选）</option>
              {Object.entries(DEPENDANT_REASONS).map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
      <Field name="name" label={w.name} error={err("name")}>
        {(a) => <input {...a} autocomplete="name" value={form.name} onInput={(e) => set({ name: e.currentTarget.value })} />}
      </Field>
      <DocumentFields form={form} set={set} err={err} />
      <Field name="phone" label={w.phone} error={err("phone")}>
        {(a) => <input {...a} type="tel" inputMode="tel" autocomplete="tel" value={form.phone} onInput={(e) => set({ phone: e.currentTarget.value })} />}
      </Field>
      <Field name="address" label={w.address} error={err("address")}>
        {(a) => <input {...a} autocomplete="street-address" value={form.address} onInput={(e) => set({ address: e.currentTarget.value })} />}
      </Field>
      <Field name="region_code" label={w.regionCode} hint={w.regionHint} error={err("region_code")}>
        {(a) => <input {...a} inputMode="numeric" maxLength={6} value={form.regionCode} onInput={(e) => set({ regionCode: e.currentTarget.value })} />}
      </Field>

      <fieldset>
        <legend>{w.declaration}</legend>
        <fieldset class="inner" aria-describedby={err("declaration.symptoms") ? "symptoms-error" : undefined}>
          <legend>{w.symptoms}</legend>
          <div class="checks">
            {Object.entries(SYMPTOM_NAMES).map(([value, label]) => (
              <label class="choice" key={value}>
                <input type="checkbox" name="symptoms" value={value} checked={form.symptoms.includes(value)} onChange={(e) => toggleSymptom(value, e.currentTarget.checked)} />
                {label}
              </label>
            ))}
          </div>
          {err("declaration.symptoms") && (
            <p class="field-error" id="symptoms-error">
              {err("declaration.symptoms")!.message}
            </p>
          )}
        </fieldset>
        <Field name="declaration.temperature" label={w.temperature} error={err("declaration.temperature")}>
          {(a) => <input {...a} inputMode="decimal" value={form.temperature} onInput={(e) => set({ temperature: e.currentTarget.value })} />}
        </Field>
        <label class="choice">
          <input type="checkbox" name="contact_with_case" checked={form.contactWithCase} onChange={(e) => set({ contactWithCase: e.currentTarget.checked })} />
          {w.contactWithCase}
        </label>
        <label class="choice">
          <input type="checkbox" name="contact_with_fever" checked={form.contactWithFever} onChange={(e) => set({ contactWithFever: e.currentTarget.checked })} />
          {w.contactWithFever}
        </label>
        <fieldset class="inner">
          <legend>{w.travel}</legend>
          {form.travel.length === 0 && <p class="empty">{w.noTravel}</p>}
          {form.travel.map((trip, index) => (
            <div class="trip" key={index}>
              <Field name={`declaration.travel.${index}.region_code`} label={`${w.travelRegion}（${index + 1}）`} error={err(`declaration.travel.${index}.region_code`)}>
                {(a) => <input {...a} inputMode="numeric" maxLength={6} value={trip.regionCode} onInput={(e) => setTrip(index, { regionCode: e.currentTarget.value })} />}
              </Field>
              <Field name={`declaration.travel.${index}.left_at`} label={`${w.travelLeft}（${index + 1}）`} error={err(`declaration.travel.${index}.left_at`)}>
                {(a) => <input {...a} type="datetime-local" value={trip.leftAt} onInput={(e) => setTrip(index, { leftAt: e.currentTarget.value })} />}
              </Field>
              <button type="button" onClick={() => set({ travel: form.travel.filter((_, i) => i !== index) })}>
                {w.removeTrip}（{index + 1}）
              </button>
            </div>
          ))}
          <button type="button" onClick={() => set({ travel: [...form.travel, { regionCode: "", leftAt: "" }] })}>
            {w.addTrip}
          </button>
        </fieldset>
      </fieldset>
      <button type="submit" class="primary" disabled={busy}>
        {busy ? w.submitting : w.submitApply}
      </button>
    </form>
  );
}

/** Move focus to the first field with an error so screen readers read it at once. */
function focusField(field: string | null): void {
  if (!field) return;
  queueMicrotask(() => {
    const exact = document.getElementById(`field-${field}`);
    const prefix = exact ?? document.querySelector<HTMLElement>(`[id^="field-${CSS.escape(field.split(".")[0])}"]`);
    prefix?.focus();
  });
}
