/** Small pieces the officials' pages share: a loading/error/empty frame, a notice of what the
 * API did, cursor paging state, and the answer to an act held for a second official. */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Spinner } from "../../lib/components/Spinner";

/** What a list or record page shows while it loads or after an error (with a retry), else `children`. */
export function Loaded(props: { loading: boolean; error: unknown; onRetry?: () => void; children: () => ComponentChildren }) {
  if (props.error) return <ErrorBanner error={props.error} onRetry={props.onRetry} />;
  if (props.loading) return <Spinner />;
  return <>{props.children()}</>;
}

/** A polite live line telling what the last action did. */
export function Notice({ text }: { text: string | null }) {
  return (
    <p class={text ? "notice" : "notice notice-empty"} role="status" aria-live="polite">
      {text ?? ""}
    </p>
  );
}

/** The cursors a list has been through, so "previous" goes back without a backward cursor. */
export function useCursors() {
  const [trail, setTrail] = useState<string[]>([]);
  return {
    cursor: trail.length ? trail[trail.length - 1] : undefined,
    hasPrevious: trail.length > 0,
    next: (cursor: string) => setTrail((t) => [...t, cursor]),
    previous: () => setTrail((t) => t.slice(0, -1)),
    reset: () => setTrail([]),
  };
}

/** A 202 answer: the act waits for another official (docs/api.md, acts held for a second official). */
export interface Held {
  request_id: string;
  status: "pending_approval";
}

export function isHeld(answer: unknown): answer is Held {
  return (
    typeof answer === "object" &&
    answer !== null &&
    (answer as Held).status === "pending_approval" &&
    typeof (answer as Held).request_id === "string"
  );
}

export function heldText(held: Held): string {
  return `已提交，等待另一名工作人员审批（申请编号 ${held.request_id}），审批前不生效。`;
}

/** A definition list of label → value rows. */
export function Facts({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
