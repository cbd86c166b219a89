/** The venue managers' pages of the console: main.tsx spreads `managerPages` into its page
 * list. Roles only decide what is shown; the API decides what a manager may do (another
 * manager's venue answers with the API's refusal, shown as such). */
import type { Page } from "../../lib/app";
import { EditVenue } from "./EditVenue";
import { JoinCodes } from "./JoinCodes";
import { Poster } from "./Poster";
import { RegisterVenue } from "./RegisterVenue";
import { Staff } from "./Staff";
import { Stats } from "./Stats";
import { VenueAlerts } from "./VenueAlerts";
import { VenueOverview } from "./VenueOverview";
import { Venues } from "./Venues";
import "./manager.css";

const MANAGER = ["venue_manager"] as const;

export const managerPages: Page[] = [
  { path: "/manager/venues", title: "我的场所", nav: "我的场所", roles: MANAGER, render: () => <Venues /> },
  { path: "/manager/register", title: "登记场所", nav: "登记场所", roles: MANAGER, render: () => <RegisterVenue /> },
  { path: "/manager/venues/:venueId", title: "场所概况", roles: MANAGER, render: (p) => <VenueOverview venueId={p.venueId} /> },
  { path: "/manager/venues/:venueId/edit", title: "修改场所登记", roles: MANAGER, render: (p) => <EditVenue venueId={p.venueId} /> },
  { path: "/manager/venues/:venueId/poster", title: "场所码海报", roles: MANAGER, render: (p) => <Poster venueId={p.venueId} /> },
  { path: "/manager/venues/:venueId/staff", title: "场所工作人员", roles: MANAGER, render: (p) => <Staff venueId={p.venueId} /> },
  { path: "/manager/venues/:venueId/join-codes", title: "门店入驻码", roles: MANAGER, render: (p) => <JoinCodes venueId={p.venueId} /> },
  { path: "/manager/venues/:venueId/stats", title: "每日扫码统计", roles: MANAGER, render: (p) => <Stats venueId={p.venueId} /> },
  { path: "/manager/venues/:venueId/alerts", title: "异常提醒", roles: MANAGER, render: (p) => <VenueAlerts venueId={p.venueId} /> },
];

/** Where a venue manager lands: their venues. */
export function managerHome(roles: readonly string[]): string | null {
  return roles.includes("venue_manager") ? "/manager/venues" : null;
}
