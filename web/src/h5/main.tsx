/** The mobile page (/h5/): citizens and checkpoint staff. Add a page: a file in ./pages (or
 * ./staff) and an entry in `pages` below (path, Chinese title, the roles that see it). */
import type { ComponentChildren } from "preact";
import { start } from "../lib/app";
import type { Session } from "../lib/auth";
import { t } from "../lib/i18n/messages";
import { Nav } from "./components/Nav";
import { Appeals } from "./pages/Appeals";
import { Apply } from "./pages/Apply";
import { CodePage } from "./pages/CodePage";
import { History } from "./pages/History";
import { MyCodes } from "./pages/MyCodes";
import { ScanVenue } from "./pages/ScanVenue";
import { Register } from "./staff/Register";
import { Verify } from "./staff/Verify";
import { w } from "./words";
import "./h5.css";

/** Every H5 page carries the tab bar of its role. */
function withNav(session: Session, page: ComponentChildren) {
  return (
    <>
      <Nav session={session} />
      {page}
    </>
  );
}

start({
  roles: ["citizen", "scanner"],
  pages: [
    { path: "/codes", title: t.myCodes, roles: ["citizen"], render: (_, s) => withNav(s, <MyCodes />) },
    { path: "/apply", title: w.apply, roles: ["citizen"], render: (_, s) => withNav(s, <Apply />) },
    { path: "/codes/:personId", title: w.codeFor, roles: ["citizen"], render: (p, s) => withNav(s, <CodePage personId={p.personId} />) },
    { path: "/codes/:personId/history", title: w.history, roles: ["citizen"], render: (p, s) => withNav(s, <History personId={p.personId} />) },
    { path: "/codes/:personId/appeals", title: w.appeals, roles: ["citizen"], render: (p, s) => withNav(s, <Appeals personId={p.personId} />) },
    { path: "/scan", title: w.scanVenue, roles: ["citizen"], render: (_, s) => withNav(s, <ScanVenue />) },
    { path: "/verify", title: w.navVerify, roles: ["scanner"], render: (_, s) => withNav(s, <Verify session={s} />) },
    { path: "/register", title: w.navRegister, roles: ["scanner"], render: (_, s) => withNav(s, <Register session={s} />) },
  ],
  home: (session) => (session.roles.includes("citizen") ? "/codes" : "/verify"),
});
