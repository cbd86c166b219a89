/** The mobile page's tab bar: the pages of the signed-in role, the current one marked with
 * aria-current (and underlined, not only coloured). */
import type { Session } from "../../lib/auth";
import { usePath } from "../../lib/router";
import { w } from "../words";

const TABS = [
  { href: "/codes", label: w.navCodes, role: "citizen" },
  { href: "/scan", label: w.navScan, role: "citizen" },
  { href: "/verify", label: w.navVerify, role: "scanner" },
  { href: "/register", label: w.navRegister, role: "scanner" },
];

export function Nav({ session }: { session: Session }) {
  const path = usePath();
  const tabs = TABS.filter((tab) => session.roles.includes(tab.role));
  if (tabs.length === 0) return null;
  return (
    <nav class="tabs" aria-label={w.nav}>
      {tabs.map((tab) => {
        const current = path === tab.href || path.startsWith(`${tab.href}/`);
        return (
          <a key={tab.href} href={`#${tab.href}`} class={current ? "tab tab-current" : "tab"} aria-current={current ? "page" : undefined}>
            {tab.label}
          </a>
        );
      })}
    </nav>
  );
}
