/** 扫场所码: the camera reads a venue poster, the citizen chooses who comes along (the account's
 * dependants), the page adds the device's position and checks in; the result screen shows each
 * person's colour and verdict. */
import { useMemo, useState } from "preact/hooks";
import { api } from "../../lib/api";
import { ColourBadge } from "../../lib/components/ColourBadge";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Spinner } from "../../lib/components/Spinner";
import { chinaDateTime, masked } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { type HeldCode, checkinBody, defaultScanner } from "../checkin";
import { Scanner } from "../components/Scanner";
import { currentPosition } from "../location";
import { WriteKeys } from "../retry";
import { verdictView } from "../verdict";
import { w } from "../words";

interface CheckinAnswer {
  venue: { venue_id: string; name: string; address: string };
  scanned_at: string;
  checkins: { person_id: string; colour: string; risk_level: number; verdict: string }[];
}

export function ScanVenue() {
  const { data, error, loading, reload } = useApi<{ codes: HeldCode[] }>("/v1/codes");
  const [venueCode, setVenueCode] = useState<string | null>(null);
  const [result, setResult] = useState<CheckinAnswer | null>(null);
  if (loading) return <Spinner />;
  if (error) return <ErrorBanner error={error} onRetry={reload} />;
  const codes = data?.codes ?? [];
  if (codes.length === 0) {
    return (
      <p class="empty">
        {w.noCodeToCheckIn} <a href="#/apply">{w.apply}</a>
      </p>
    );
  }
  const again = () => {
    setVenueCode(null);
    setResult(null);
  };
  if (result) return <CheckinResult answer={result} codes={codes} onAgain={again} />;
  if (venueCode === null) {
    return (
      <div>
        <p>{w.scanHint}</p>
        <Scanner onCode={setVenueCode} />
      </div>
    );
  }
  return <CheckinForm venueCode={venueCode} codes={codes} onDone={setResult} onAgain={again} />;
}

function CheckinForm(props: { venueCode: string; codes: HeldCode[]; onDone: (answer: CheckinAnswer) => void; onAgain: () => void }) {
  const [personId, setPersonId] = useState(defaultScanner(props.codes) ?? "");
  const [companions, setCompanions] = useState<string[]>([]);
  const [stage, setStage] = useState<"ready" | "locating" | "sending">("ready");
  const [error, setError] = useState<unknown>(null);
  const keys = useMemo(() => new WriteKeys(), []);
  const others = props.codes.filter((c) => c.person_id !== personId);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setStage("locating");
    let position;
    try {
      position = await currentPosition();
    } catch {
      setError(new Error(w.locationDenied));
      setStage("ready");
      return;
    }
    setStage("sending");
    const body = checkinBody(props.venueCode, personId, companions, position);
    try {
      const answer = await api<CheckinAnswer>("/v1/checkins", { body, idempotencyKey: keys.keyFor(body) });
      keys.done();
      props.onDone(answer);
    } catch (e) {
      setError(e);
      setStage("ready");
    }
  };

  return (
    <form class="form" onSubmit={submit}>
      <p class="notice" role="status">
        {w.scanned}
      </p>
      <ErrorBanner error={error} />
      <div class="field">
        <label for="checkin-person">{w.whoChecksIn}</label>
        <select id="checkin-person" value={personId} onChange={(e) => setPersonId(e.currentTarget.value)}>
          {props.codes.map((c) => (
            <option key={c.person_id} value={c.person_id}>
              {masked(c.name_masked)}
              {c.dependant ? "（家属）" : "（本人）"}
            </option>
          ))}
        </select>
      </div>
      {others.length > 0 && (
        <fieldset>
          <legend>{w.companions}</legend>
          {others.map((c) => (
            <label class="choice" key={c.person_id}>
              <input
                type="checkbox"
                name="companions"
                value={c.person_id}
                checked={companions.includes(c.person_id)}
                onChange={(e) =>
                  setCompanions(e.currentTarget.checked ? [...companions, c.person_id] : companions.filter((id) => id !== c.person_id))
                }
              />
              {masked(c.name_masked)}
            </label>
          ))}
        </fieldset>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={stage !== "ready"}>
          {stage === "locating" ? w.locating : stage === "sending" ? w.submitting : w.checkIn}
        </button>
        <button type="button" onClick={props.onAgain}>
          {w.scanAgain}
        </button>
      </div>
    </form>
  );
}

function CheckinResult({ answer, codes, onAgain }: { answer: CheckinAnswer; codes: HeldCode[]; onAgain: () => void }) {
  const names = new Map(codes.map((c) => [c.person_id, c.name_masked]));
  const worst = answer.checkins.reduce((a, b) => (b.risk_level > a.risk_level ? b : a), answer.checkins[0]);
  const tone = verdictView(worst.verdict).tone;
  return (
    <section class={`checkin-result verdict-screen verdict-${tone}`} aria-labelledby="checkin-heading">
      <h2 id="checkin-heading" class="verdict-heading">
        {w.checkedIn}
      </h2>
      <p class="checkin-venue">
        <strong>{answer.venue.name}</strong>
        <br />
        {answer.venue.address}
      </p>
      <p>
        {w.scannedAt} {chinaDateTime(answer.scanned_at)}
      </p>
      <ul class="checkin-people">
        {answer.checkins.map((c) => {
          const view = verdictView(c.verdict);
          return (
            <li key={c.person_id} class="card">
              <span>{masked(names.get(c.person_id))}</span>
              <ColourBadge colour={c.colour} />
              <span class="verdict-word">
                {w.verdict}：{view.label}
              </span>
            </li>
          );
        })}
      </ul>
      <button type="button" onClick={onAgain}>
        {w.scanAgain}
      </button>
    </section>
  );
}
