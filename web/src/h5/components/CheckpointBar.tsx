/** Which checkpoint the staff member works at (see ../checkpoint.ts): shown on every staff page,
 * changeable; the API decides whether the account is assigned there. */
import { useState } from "preact/hooks";
import { cleanCheckpoint, saveCheckpoint, savedCheckpoint } from "../checkpoint";
import { w } from "../words";

export function useCheckpoint(sub: string): [string | null, (value: string | null) => void] {
  const [value, setValue] = useState<string | null>(() => savedCheckpoint(sub));
  const set = (next: string | null) => {
    saveCheckpoint(sub, next);
    setValue(next);
  };
  return [value, set];
}

export function CheckpointBar({ checkpoint, onChange }: { checkpoint: string | null; onChange: (value: string | null) => void }) {
  const [typed, setTyped] = useState(checkpoint ?? "");
  const [invalid, setInvalid] = useState(false);
  if (checkpoint) {
    return (
      <p class="checkpoint-bar">
        {w.atCheckpoint}：<strong>{checkpoint}</strong>{" "}
        <button type="button" class="link" onClick={() => onChange(null)}>
          {w.changeCheckpoint}
        </button>
      </p>
    );
  }
  const submit = (event: Event) => {
    event.preventDefault();
    const clean = cleanCheckpoint(typed);
    setInvalid(clean === null);
    if (clean) onChange(clean);
  };
  return (
    <form class="form checkpoint-form" onSubmit={submit} noValidate>
      <div class={`field${invalid ? " field-invalid" : ""}`}>
        <label for="checkpoint-id">{w.checkpoint}</label>
        <input
          id="checkpoint-id"
          name="checkpoint"
          autocomplete="off"
          aria-invalid={invalid}
          aria-describedby={invalid ? "checkpoint-hint checkpoint-error" : "checkpoint-hint"}
          value={typed}
          onInput={(e) => setTyped(e.currentTarget.value)}
        />
        <p class="field-hint" id="checkpoint-hint">
          {w.checkpointHint}
        </p>
        {invalid && (
          <p class="field-error" id="checkpoint-error">
            请填写卡口编号（不含空格）。
          </p>
        )}
      </div>
      <button type="submit" class="primary">
        {w.saveCheckpoint}
      </button>
    </form>
  );
}
