import type { ComponentChildren } from "preact";
import type { Session } from "../auth";
import { config } from "../config";
import { roleName, t } from "../i18n/messages";
import "./nav.css";

export interface NavItem {
  href: string;
  label: string;
  current: boolean;
}

/** Every signed-in page: a header naming the brand, the signed-in role and area, and sign-out;
 * the navigation of the caller's pages when there is more than one. */
export function Layout(props: { title: string; session: Session; onSignOut: () => void; nav?: NavItem[]; children: ComponentChildren }) {
  const roles = props.session.roles.map(roleName).join("、");
  return (
    <div class="layout">
      <header class="header">
        <span class="brand">{config().brand}</span>
        <span class="who" aria-label={t.signedInAs}>
          {roles}
          {props.session.region ? ` · ${t.area_label} ${props.session.region}` : ""}
        </span>
        <button type="button" class="link" onClick={props.onSignOut}>
          {t.signOut}
        </button>
      </header>
      {props.nav && props.nav.length > 1 && (
        <nav class="nav" aria-label={t.navigation}>
          <ul>
            {props.nav.map((item) => (
              <li key={item.href}>
                <a href={item.href} aria-current={item.current ? "page" : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      <main class="content">
        <h1>{props.title}</h1>
        {props.children}
      </main>
    </div>
  );
}
