/** The desktop page (/console/): venue managers and officials. Add a page: a file in ./pages and
 * an entry in `pages` below (path, Chinese title, the roles that see it). */
import { start } from "../lib/app";
import { managerHome, managerPages } from "./manager/pages";
import { officialHome, officialPages } from "./official/pages";
import { Account } from "./pages/Account";

start({
  roles: ["venue_manager", "official", "admin"],
  pages: [
    ...managerPages,
    ...officialPages,
    {
      path: "/account",
      title: "我的账号",
      roles: ["venue_manager", "official", "admin"],
      nav: "我的账号",
      render: (_params, session) => <Account session={session} />,
    },
  ],
  home: (session) => managerHome(session.roles) ?? officialHome(session.roles) ?? "/account",
});
