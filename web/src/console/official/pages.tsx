/** The officials' pages of the console (and the reports, person search and audit trail admins
 * share with them): main.tsx spreads `officialPages` into its page list. Roles only decide what
 * is shown; the API decides what each caller may do. The screens themselves load on demand. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Page } from "../../lib/app";
import { ErrorBanner } from "../../lib/components/ErrorBanner";
import { Spinner } from "../../lib/components/Spinner";

type Screens = typeof import("./screens");

let loading: Promise<Screens> | null = null;

function loadScreens(): Promise<Screens> {
  loading ??= import("./screens").catch((error) => {
    loading = null; // a later visit tries again
    throw error;
  });
  return loading;
}

/** One of the officials' screens, once its chunk has loaded. */
function Screen({ show }: { show: (screens: Screens) => ComponentChildren }) {
  const [screens, setScreens] = useState<Screens | null>(null);
  const [failed, setFailed] = useState(false);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    loadScreens().then(
      (loaded) => live && setScreens(loaded),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [round]);
  if (failed) {
    const retry = () => {
      setFailed(false);
      setRound((n) => n + 1);
    };
    return <ErrorBanner error={new Error("页面加载失败，请检查网络后重试。")} onRetry={retry} />;
  }
  if (!screens) return <Spinner />;
  return <>{show(screens)}</>;
}

const OFFICIAL = ["official"] as const;
const READERS = ["official", "admin"] as const;

export const officialPages: Page[] = [
  { path: "/official/alerts", title: "告警处置", nav: "告警处置", roles: OFFICIAL, render: () => <Screen show={(m) => <m.Alerts />} /> },
  {
    path: "/official/persons",
    title: "人员查询",
    nav: "人员查询",
    roles: READERS,
    render: (_p, s) => <Screen show={(m) => <m.PersonSearch session={s} />} />,
  },
  {
    path: "/official/persons/:personId",
    title: "人员档案",
    roles: OFFICIAL,
    render: (p) => <Screen show={(m) => <m.PersonRecord personId={p.personId} />} />,
  },
  { path: "/official/cases", title: "病例", nav: "病例", roles: OFFICIAL, render: () => <Screen show={(m) => <m.Cases />} /> },
  {
    path: "/official/cases/:caseId",
    title: "病例详情",
    roles: OFFICIAL,
    render: (p) => <Screen show={(m) => <m.CasePage caseId={p.caseId} />} />,
  },
  {
    path: "/official/overrides",
    title: "改码审批",
    nav: "改码审批",
    roles: OFFICIAL,
    render: (_p, s) => <Screen show={(m) => <m.Overrides session={s} />} />,
  },
  { path: "/official/appeals", title: "申诉处理", nav: "申诉处理", roles: OFFICIAL, render: () => <Screen show={(m) => <m.Appeals />} /> },
  {
    path: "/official/risk-areas",
    title: "风险地区",
    nav: "风险地区",
    roles: OFFICIAL,
    render: (_p, s) => <Screen show={(m) => <m.RiskAreas session={s} />} />,
  },
  {
    path: "/official/reports/daily-scans",
    title: "每日扫码统计",
    nav: "每日扫码",
    roles: READERS,
    render: (_p, s) => <Screen show={(m) => <m.DailyScans session={s} />} />,
  },
  {
    path: "/official/reports/coverage",
    title: "场所码覆盖率",
    nav: "覆盖率",
    roles: READERS,
    render: (_p, s) => <Screen show={(m) => <m.Coverage session={s} />} />,
  },
  {
    path: "/official/reports/indicators",
    title: "考核指标",
    nav: "考核指标",
    roles: READERS,
    render: (_p, s) => <Screen show={(m) => <m.Indicators session={s} />} />,
  },
  { path: "/official/audit", title: "审计日志", nav: "审计日志", roles: READERS, render: (_p, s) => <Screen show={(m) => <m.Audit session={s} />} /> },
];

/** Where an official lands (the alerts queue); an admin lands on the reports. */
export function officialHome(roles: readonly string[]): string | null {
  if (roles.includes("official")) return "/official/alerts";
  if (roles.includes("admin")) return "/official/reports/daily-scans";
  return null;
}
