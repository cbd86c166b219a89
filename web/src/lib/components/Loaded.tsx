import type { ComponentChildren } from "preact";
import { ErrorBanner } from "./ErrorBanner";
import { Spinner } from "./Spinner";

/** What a list or record page shows while it loads or after an error (with a retry), else what
 * `children` draws. */
export function Loaded(props: { loading: boolean; error: unknown; onRetry?: () => void; children: () => ComponentChildren }) {
  if (props.error) return <ErrorBanner error={props.error} onRetry={props.onRetry} />;
  if (props.loading) return <Spinner />;
  return <>{props.children()}</>;
}
