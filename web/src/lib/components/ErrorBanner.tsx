import { ApiError } from "../api";
import { t } from "../i18n/messages";

/** An error the page could not place on a field: the API's Chinese message, with a retry. */
export function ErrorBanner({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const message =
    error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error);
  return (
    <div class="error-banner" role="alert">
      <span>{message}</span>
      {onRetry && (
        <button type="button" class="link" onClick={onRetry}>
          {t.retry}
        </button>
      )}
    </div>
  );
}
