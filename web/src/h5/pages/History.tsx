/** 赋码记录: every colour change of one person, oldest first, with the reason written at the
 * change; and the steps of overrides and appeals about them (never the officials' notes). */
import { colourName } from "../../lib/colour";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Spinner } from "../../lib/components/Spinner";
import { chinaDateTime } from "../../lib/format";
import { useApi } from "../../lib/useApi";
import { APPEAL_STATUS, STEP_NAMES, w } from "../words";

interface HistoryAnswer {
  changes: { at: string; from: string | null; to: string | null; reason: string | null }[];
  steps?: { at: string; kind: string; colour?: string | null; outcome?: string | null }[];
}

function colourText(colour: string | null): string {
  return colour ? colourName(colour) : "无";
}

export function History({ personId }: { personId: string }) {
  const { data, error, loading, reload } = useApi<HistoryAnswer>(`/v1/codes/${encodeURIComponent(personId)}/history`);
  if (loading) return <Spinner />;
  if (error) return <ErrorBanner error={error} onRetry={reload} />;
  const changes = [...(data?.changes ?? [])].reverse();
  const steps = [...(data?.steps ?? [])].reverse();
  return (
    <div>
      {changes.length === 0 ? (
        <p class="empty">{w.noHistory}</p>
      ) : (
        <ol class="timeline" aria-label={w.history}>
          {changes.map((change, index) => (
            <li key={`${change.at}-${index}`}>
              <time dateTime={change.at}>{chinaDateTime(change.at)}</time>
              <p>
                {colourText(change.from)} → <strong>{colourText(change.to)}</strong>
              </p>
              {change.reason && <p class="muted">{change.reason}</p>}
            </li>
          ))}
        </ol>
      )}
      {steps.length > 0 && (
        <section aria-labelledby="steps-heading">
          <h2 id="steps-heading">{w.steps}</h2>
          <ol class="timeline">
            {steps.map((step, index) => (
              <li key={`${step.at}-${index}`}>
                <time dateTime={step.at}>{chinaDateTime(step.at)}</time>
                <p>
                  {STEP_NAMES[step.kind] ?? step.kind}
                  {step.colour ? `（${colourName(step.colour)}）` : ""}
                  {step.outcome ? `（${APPEAL_STATUS[step.outcome] ?? step.outcome}）` : ""}
                </p>
              </li>
            ))}
          </ol>
        </section>
      )}
      <p class="links">
        <a href={`#/codes/${encodeURIComponent(personId)}`}>返回健康码</a>
      </p>
    </div>
  );
}
