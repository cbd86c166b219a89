/** Small pieces the officials' pages share: a loading/error/empty frame, a notice of what the
 * API did, cursor paging state, and the answer to an act held for a second official. */
import type { ComponentChildren } from "preact";

import { Loaded } from "../../lib/components/Loaded";

export { Loaded };

/** A polite live line telling what the last action did. */
export function Notice({ text }: { text: string | null }) {
  return (
    <p class={text ? "notice" : "notice notice-empty"} role="status" aria-live="polite">
      {text ?? ""}
    </p>
  );
}

export { useCursors } from "../../lib/cursors";

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
