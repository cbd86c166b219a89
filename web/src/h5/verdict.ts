/** What a checkpoint or a check-in answer tells staff and citizens to do, in words and in a
 * colour that always comes with those words. The API names the verdict (`pass`, `dissuade`,
 * `isolate`, or a province's own such as Fujian's `register`); an unknown one is shown as sent
 * and styled as a stop, never as a pass. */
export interface VerdictView {
  /** The instruction, large: 通行 / 劝返 / 隔离 / 登记. */
  label: string;
  /** One sentence for the person reading the screen. */
  detail: string;
  /** CSS modifier (`verdict-pass` …): background and text colours with at least 4.5:1 contrast. */
  tone: "pass" | "caution" | "stop" | "register";
  /** The colour's name, written beside it (绿色 …). */
  toneName: string;
}

const VERDICTS: Record<string, VerdictView> = {
  pass: { label: "通行", detail: "健康码正常，请通行。", tone: "pass", toneName: "绿色" },
  dissuade: { label: "劝返", detail: "请劝返，并提示其按要求进行核酸检测或健康监测。", tone: "caution", toneName: "黄色" },
  isolate: { label: "隔离", detail: "请就地隔离管控，并立即报告当地防控部门。", tone: "stop", toneName: "红色" },
  register: { label: "登记", detail: "请登记身份信息后按要求处置。", tone: "register", toneName: "橙色" },
};

export function verdictView(verdict: string): VerdictView {
  return (
    VERDICTS[verdict] ?? { label: verdict || "未知", detail: "请按现场防控要求处置。", tone: "stop", toneName: "红色" }
  );
}

/** The short label alone (tables, lists). */
export function verdictLabel(verdict: string): string {
  return verdictView(verdict).label;
}

/** Why a scan the API marked abnormal is: a green code is abnormal only for its temperature
 * (at or above the province's threshold, which the page does not need to know); any other colour
 * is abnormal by itself, and a temperature typed is shown beside it. */
export function abnormalNote(abnormal: boolean, temperature: number | null | undefined, colour: string): string | null {
  if (!abnormal) return null;
  const typed = typeof temperature === "number" && !Number.isNaN(temperature) ? ` ${temperature.toFixed(1)}°C` : "";
  if (colour === "green") return `体温异常${typed}`;
  return typed ? `健康码非绿码，体温${typed}` : "健康码非绿码";
}
