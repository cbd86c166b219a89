/** 扫码核验: the camera reads a personal code (or a paper code), the staff member adds the
 * temperature, the API answers the verdict, shown across the whole screen. */
import { useMemo, useState } from "preact/hooks";
import { ApiError, api } from "../../lib/api";
import type { Session } from "../../lib/auth";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field } from "../../lib/components/Field";
import { CheckpointBar, useCheckpoint } from "../components/CheckpointBar";
import { Scanner } from "../components/Scanner";
import { type VerdictAnswer, VerdictScreen } from "../components/VerdictScreen";
import { parseTemperature, unplacedError } from "../application";
import { verificationBody } from "../registration";
import { WriteKeys } from "../retry";
import { w } from "../words";

interface Verified extends VerdictAnswer {
  scan_id: string;
}

export function Verify({ session }: { session: Session }) {
  const [checkpoint, setCheckpoint] = useCheckpoint(session.sub);
  const [code, setCode] = useState<string | null>(null);
  const [temperature, setTemperature] = useState("");
  const [result, setResult] = useState<Verified | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const keys = useMemo(() => new WriteKeys(), []);

  const next = () => {
    setCode(null);
    setResult(null);
    setError(null);
    setTemperature("");
  };

  if (!checkpoint) return <CheckpointBar checkpoint={null} onChange={setCheckpoint} />;

  if (result) {
    return (
      <div class="fullscreen" role="dialog" aria-modal="true" aria-labelledby="verdict-heading">
        <VerdictScreen answer={result} temperature={parseTemperature(temperature)} heading={w.verdict}>
          <button type="button" class="primary big" onClick={next}>
            {w.nextPerson}
          </button>
        </VerdictScreen>
      </div>
    );
  }

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!code) return;
    const value = parseTemperature(temperature);
    if (value !== null && Number.isNaN(value)) {
      setError(new ApiError(0, "invalid_input", "体温请填写数字，例如 36.5。", "temperature"));
      return;
    }
    const body = verificationBody(code, checkpoint, temperature);
    setBusy(true);
    setError(null);
    try {
      const answer = await api<Verified>("/v1/verifications", { body, idempotencyKey: keys.keyFor(body) });
      keys.done();
      setResult(answer);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <CheckpointBar checkpoint={checkpoint} onChange={setCheckpoint} />
      {code === null ? (
        <Scanner onCode={setCode} typedLabel="或手动输入健康码内容" />
      ) : (
        <form class="form" onSubmit={submit} noValidate>
          <p class="notice" role="status">
            {w.personalCode}
          </p>
          <ErrorBanner error={unplacedError(error, ["temperature"])} />
          <Field name="temperature" label={w.staffTemperature} error={error}>
            {(a) => <input {...a} inputMode="decimal" value={temperature} onInput={(e) => setTemperature(e.currentTarget.value)} />}
          </Field>
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              {busy ? w.verifying : w.verify}
            </button>
            <button type="button" onClick={next}>
              {w.scanAgain}
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
