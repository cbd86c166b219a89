import { useState } from "preact/hooks";
import { api, ApiError } from "../../lib/api";
import type { Session } from "../../lib/auth";
import { config } from "../../lib/config";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Field, fieldError } from "../../lib/components/Field";
import { Spinner } from "../../lib/components/Spinner";
import { chinaDateTime } from "../../lib/format";
import { RISK_LEVELS, riskLevelName } from "./labels";
import { Facts, heldText, isHeld, Notice } from "./parts";

interface Area {
  region_code: string;
  level: string;
  updated_at: string | null;
}

/** 风险地区: look up a region's level and set it. A county raise applies at once; a prefecture or
 * province area, any lowering, and raises past the hourly limit wait for a second official (202). */
export function RiskAreas({ session }: { session: Session }) {
  const [code, setCode] = useState(session.region ?? config().province);
  const [area, setArea] = useState<Area | null>(null);
  const [level, setLevel] = useState("high");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const look = async (event?: Event) => {
    event?.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const found = await api<Area>(`/v1/risk-areas/${encodeURIComponent(code.trim())}`);
      setArea(found);
      setLevel(found.level);
    } catch (e) {
      setArea(null);
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const set = async (event: Event) => {
    event.preventDefault();
    if (!area) return;
    setBusy(true);
    setError(null);
    try {
      const answer = await api<Area | { request_id: string; status: "pending_approval" }>(`/v1/risk-areas/${encodeURIComponent(area.region_code)}`, {
        method: "PUT",
        body: { level },
      });
      if (isHeld(answer)) setDone(heldText(answer));
      else {
        setArea(answer as Area);
        setDone(`${area.region_code} 已设为${riskLevelName((answer as Area).level)}地区。`);
      }
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const onField = error instanceof ApiError && (fieldError(error, "region_code") || fieldError(error, "level"));
  return (
    <>
      <form class="filters" onSubmit={look} role="search" aria-label="查询风险地区">
        <Field name="region_code" label="行政区划代码（六位）" error={error}>
          {(attributes) => (
            <input {...attributes} required inputMode="numeric" pattern="[0-9]{6}" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          )}
        </Field>
        <button type="submit" disabled={busy}>
          查询
        </button>
      </form>
      {!onField && <ErrorBanner error={error} />}
      {busy && <Spinner />}
      {area && (
        <form class="panel" onSubmit={set} aria-labelledby="risk-area-title">
          <h2 id="risk-area-title">地区 {area.region_code}</h2>
          <Facts
            rows={[
              ["当前等级", riskLevelName(area.level)],
              ["更新时间", area.updated_at ? chinaDateTime(area.updated_at) : "从未设置（默认低风险）"],
            ]}
          />
          <div class="filters">
            <Field name="level" label="设为" error={error}>
              {(attributes) => (
                <select {...attributes} value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
                  {RISK_LEVELS.map((l) => (
                    <option key={l} value={l}>
                      {riskLevelName(l)}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <button type="submit" class="primary" disabled={busy}>
              设置等级
            </button>
          </div>
          <p class="muted">市州级、省级地区和任何降级须另一名工作人员审批后生效；从该地区来的人员将重新赋码。</p>
        </form>
      )}
      <Notice text={done} />
    </>
  );
}
