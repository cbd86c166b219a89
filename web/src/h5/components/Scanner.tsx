/** The camera as a QR reader: the decoder (jsQR, in lib/camera) is loaded only when a scan page
 * opens, so the code page stays small. The camera starts at once; a refusal is shown in words,
 * and a typed code is always possible (no camera, or a screen reader). */
import { useEffect, useRef, useState } from "preact/hooks";
import { t } from "../../lib/i18n/messages";
import { w } from "../words";

type State = "starting" | "scanning" | "stopped" | "refused";

export function Scanner({ onCode, typedLabel = w.typedCode }: { onCode: (text: string) => void; typedLabel?: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const stopper = useRef<(() => void) | null>(null);
  const [state, setState] = useState<State>("starting");
  const [round, setRound] = useState(0);
  const [typed, setTyped] = useState("");

  useEffect(() => {
    let live = true;
    setState("starting");
    import("../../lib/camera")
      .then(({ scanQr }) => {
        if (!live || !video.current) return;
        const handle = scanQr(video.current);
        stopper.current = handle.stop;
        setState("scanning");
        return handle.result.then(
          (text) => live && onCode(text),
          (error: Error) => {
            if (!live) return;
            setState(error.message === "stopped" ? "stopped" : "refused");
          },
        );
      })
      .catch(() => live && setState("refused"));
    return () => {
      live = false;
      stopper.current?.();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [round]);

  const submitTyped = (event: Event) => {
    event.preventDefault();
    const text = typed.trim();
    if (text) {
      stopper.current?.();
      onCode(text);
    }
  };

  return (
    <div class="scanner">
      <div class="scanner-frame">
        <video ref={video} class="scanner-video" aria-label={w.camera} muted playsInline />
      </div>
      <p class="scanner-status" role="status" aria-live="polite">
        {state === "refused" ? t.cameraDenied : state === "stopped" ? "" : state === "scanning" ? w.scanning : t.loading}
      </p>
      {state === "scanning" ? (
        <button type="button" onClick={() => stopper.current?.()}>
          {w.stopCamera}
        </button>
      ) : state !== "starting" ? (
        <button type="button" onClick={() => setRound((n) => n + 1)}>
          {w.startCamera}
        </button>
      ) : null}
      <form class="typed-code" onSubmit={submitTyped}>
        <div class="field">
          <label for="typed-code">{typedLabel}</label>
          <input id="typed-code" name="typed-code" autocomplete="off" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={typed.trim() === ""}>
          {w.useTyped}
        </button>
      </form>
    </div>
  );
}
