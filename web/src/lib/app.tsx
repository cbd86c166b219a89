/** The shell both pages share: load config.json, finish an OIDC callback, keep the session,
 * route `#/…` to a page, and show sign-in when there is no (unexpired) session. */
import type { ComponentChildren } from "preact";
import { render } from "preact";
import { useState } from "preact/hooks";
import { completeSignIn, type Role, type Session, session as currentSession, signOut } from "./auth";
import { loadConfig } from "./config";
import { ErrorBanner } from "./components/ErrorBanner";
import { Layout, type NavItem } from "./components/Layout";
import { SignIn } from "./components/SignIn";
import { match, navigate, usePath } from "./router";
import "./styles.css";

export interface Page {
  /** `#` path pattern, e.g. `/codes/:personId`. */
  path: string;
  title: string;
  /** Roles that see this page (the API decides what they may do; this only hides links). */
  roles: readonly Role[];
  render: (params: Record<string, string>, session: Session) => ComponentChildren;
  /** A label puts the page in the navigation (for the roles above; pages with `:params` never). */
  nav?: string;
}

export interface AppDefinition {
  /** Roles offered at local sign-in on this page (first is the default). */
  roles: readonly Role[];
  pages: Page[];
  /** Where a signed-in caller lands when the path names no page for their roles. */
  home: (session: Session) => string;
}

function App({ app }: { app: AppDefinition }) {
  const [session, setSession] = useState<Session | null>(currentSession());
  const path = usePath();
  const live = session && currentSession() ? session : null;
  if (!live) return <SignIn roles={app.roles} onSignedIn={setSession} />;
  const allowed = app.pages.filter((p) => p.roles.some((r) => live.roles.includes(r)));
  for (const page of allowed) {
    const params = match(page.path, path);
    if (params) {
      const leave = () => {
        signOut();
        setSession(null);
      };
      return (
        <Layout title={page.title} session={live} onSignOut={leave} nav={navFor(allowed, path)}>
          {page.render(params, live)}
        </Layout>
      );
    }
  }
  const home = app.home(live);
  if (home !== path) queueMicrotask(() => navigate(home));
  return null;
}

/** The navigation of the pages a caller sees: only those with a `nav` label, the current one marked. */
export function navFor(pages: Page[], path: string): NavItem[] {
  return pages
    .filter((p) => p.nav && !p.path.includes(":"))
    .map((p) => ({ href: `#${p.path}`, label: p.nav as string, current: match(p.path, path) !== null }));
}

/** Start a page: call once from its main.tsx. */
export async function start(app: AppDefinition): Promise<void> {
  const root = document.getElementById("app")!;
  try {
    await loadConfig();
    const query = new URLSearchParams(window.location.search);
    if (query.has("code") || query.has("error")) {
      // Take the code out of the address bar at once, whatever happens next.
      window.history.replaceState(null, "", `${window.location.pathname}${window.location.hash}`);
      await completeSignIn(query.toString(), window.location);
    }
    render(<App app={app} />, root);
  } catch (error) {
    render(
      <main class="content">
        <ErrorBanner error={error} onRetry={() => window.location.reload()} />
      </main>,
      root,
    );
  }
}
