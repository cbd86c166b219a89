/** A verdict across the whole screen, for staff at a checkpoint and for a citizen's check-in:
 * the instruction in large words on its colour, the colour's name written out, the masked
 * identity as the API sent it. */
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { ColourBadge } from "../../lib/components/ColourBadge";
import { masked } from "../../lib/format";
import { abnormalNote, verdictView } from "../verdict";
import { w } from "../words";

export interface VerdictAnswer {
  verdict: string;
  colour: string;
  risk_level: number;
  abnormal?: boolean;
  person?: { name_masked: string | null; id_masked: string | null } | null;
}

export function VerdictScreen(props: { answer: VerdictAnswer; temperature?: number | null; heading: string; children?: ComponentChildren }) {
  const view = verdictView(props.answer.verdict);
  const note = abnormalNote(Boolean(props.answer.abnormal), props.temperature, props.answer.colour);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section class={`verdict-screen verdict-${view.tone}`} aria-labelledby="verdict-heading">
      <h2 id="verdict-heading" ref={heading} tabIndex={-1} class="verdict-heading">
        {props.heading}
      </h2>
      <p class="verdict-label">
        {view.label}
        <span class="verdict-tone">（{view.toneName}）</span>
      </p>
      <p class="verdict-detail">{view.detail}</p>
      <p>
        <ColourBadge colour={props.answer.colour} />
      </p>
      {props.answer.person && (
        <dl class="verdict-person">
          <dt>{w.name}</dt>
          <dd>{masked(props.answer.person.name_masked)}</dd>
          <dt>{w.idNumber}</dt>
          <dd>{masked(props.answer.person.id_masked)}</dd>
        </dl>
      )}
      {props.answer.abnormal !== undefined && <p class="verdict-abnormal">{note ? `${w.abnormal}（${note}）` : w.normal}</p>}
      {props.children}
    </section>
  );
}
