import { t } from "../i18n/messages";

/** A busy indicator announced to screen readers. */
export function Spinner({ label = t.loading }: { label?: string }) {
  return (
    <div class="spinner" role="status" aria-live="polite">
      <span class="spinner-dot" aria-hidden="true" />
      {label}
    </div>
  );
}
