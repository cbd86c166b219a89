/** 人工登记: someone without a phone at the checkpoint. The verdict comes back as for a scan;
 * with "print a paper code" ticked, the API's labelled card is shown and printed. */
import { useMemo, useState } from "preact/hooks";
import { type ApiError, api } from "../../lib/api";
import type { Session } from "../../lib/auth";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field } from "../../lib/components/Field";
import { errorFor, parseTemperature, unplacedError } from "../application";
import { CheckpointBar, useCheckpoint } from "../components/CheckpointBar";
import { PaperCard } from "../components/PaperCard";
import { type VerdictAnswer, VerdictScreen } from "../components/VerdictScreen";
import type { PaperCode } from "../paper";
import { type RegistrationForm, emptyRegistration, registrationBody, registrationProblems } from "../registration";
import { DocumentFields } from "../components/DocumentFields";
import { WriteKeys } from "../retry";
import { w } from "../words";

interface Registered extends VerdictAnswer {
  scan_id: string;
  paper_code?: PaperCode;
}

/** The fields the form shows (an error naming any other goes to the banner). */
function shownFields(form: RegistrationForm): string[] {
  return ["name", "id_type", "id_number", "phone", "temperature", ...(form.idType === "passport" ? ["nationality"] : [])];
}

export function Register({ session }: { session: Session }) {
  const [checkpoint, setCheckpoint] = useCheckpoint(session.sub);
  const [form, setForm] = useState<RegistrationForm>(emptyRegistration);
  const [problems, setProblems] = useState<ApiError[]>([]);
  const [answer, setAnswer] = useState<unknown>(null);
  const [result, setResult] = useState<Registered | null>(null);
  const [busy, setBusy] = useState(false);
  const keys = useMemo(() => new WriteKeys(), []);
  const set = (patch: Partial<RegistrationForm>) => setForm((f) => ({ ...f, ...patch }));
  const err = (field: string) => errorFor(field, problems, answer);

  if (!checkpoint) return <CheckpointBar checkpoint={null} onChange={setCheckpoint} />;

  if (result) {
    const again = () => {
      setResult(null);
      setForm(emptyRegistration());
    };
    return (
      <div>
        <VerdictScreen answer={result} temperature={parseTemperature(form.temperature)} heading={w.registered} />
        {result.paper_code && <PaperCard paper={result.paper_code} />}
        <p>
          <button type="button" onClick={again}>
            {w.newRegistration}
          </button>
        </p>
      </div>
    );
  }

  const submit = async (event: Event) => {
    event.preventDefault();
    const found = registrationProblems(form);
    setProblems(found);
    setAnswer(null);
    if (found.length > 0) {
      document.getElementById(`field-${found[0].field}`)?.focus();
      return;
    }
    const body = registrationBody(form, checkpoint);
    setBusy(true);
    try {
      const registered = await api<Registered>("/v1/manual-registrations", { body, idempotencyKey: keys.keyFor(body) });
      keys.done();
      setResult(registered);
    } catch (e) {
      setAnswer(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <CheckpointBar checkpoint={checkpoint} onChange={setCheckpoint} />
      <form class="form" onSubmit={submit} noValidate>
        <ErrorBanner error={unplacedError(answer, shownFields(form))} />
        <Field name="name" label={w.name} error={err("name")}>
          {(a) => <input {...a} autocomplete="off" value={form.name} onInput={(e) => set({ name: e.currentTarget.value })} />}
        </Field>
        <DocumentFields form={form} set={set} err={err} />
        <Field name="phone" label={w.phoneOptional} error={err("phone")}>
          {(a) => <input {...a} type="tel" inputMode="tel" value={form.phone} onInput={(e) => set({ phone: e.currentTarget.value })} />}
        </Field>
        <Field name="temperature" label={w.temperatureRequired} error={err("temperature")}>
          {(a) => <input {...a} inputMode="decimal" value={form.temperature} onInput={(e) => set({ temperature: e.currentTarget.value })} />}
        </Field>
        <label class="choice">
          <input type="checkbox" name="issue_paper_code" checked={form.issuePaperCode} onChange={(e) => set({ issuePaperCode: e.currentTarget.checked })} />
          {w.issuePaperCode}
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? w.submitting : w.register}
        </button>
      </form>
    </div>
  );
}
