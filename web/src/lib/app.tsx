/** The shell both pages share: load config.json, finish an OIDC callback, keep the session,
 * route `#/…` to a page, and show sign-in when there is no (unexpired) session. */
import type { ComponentChildren } from "preact";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { completeSignIn, type Role, SIGNED_OUT_EVENT, type Session, session as currentSession, signOut } from "./auth";
import { loadConfig } from "./config";
import { t } from "./i18n/messages";
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
  useEffect(() => {
    const signedOut = () => setSession(null);
    window.addEventListener(SIGNED_OUT_EVENT, signedOut);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, signedOut);
  }, []);
  const live = session && currentSession() ? session : null;
  if (!live) return <SignIn roles={app.roles} onSignedIn={setSession} />;
  const allowed = app.pages.filter((p) => p.roles.some((r) => live.roles.includes(r)));
  if (allowed.length === 0) return <NotForRole app={app} session={live} />;
  for (const page of allowed) {
    const params = match(page.path, path);
    if (params) {
      const leave = () => signOut();
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

/** A caller none of whose roles this page serves (an official's session opening /h5/ in the
 * same tab, or a role the identity provider gave): say so, offer sign-out and the other page,
 * instead of an empty screen the caller cannot leave. */
function NotForRole({ app, session }: { app: AppDefinition; session: Session }) {
  const h5 = app.roles.includes("citizen");
  return (
    <Layout title={t.notForRoleTitle} session={session} onSignOut={signOut}>
      <p>
        {t.notForRole}
        <a href={h5 ? "../console/" : "../h5/"}>{h5 ? t.otherPageConsole : t.otherPageH5}</a>
      </p>
    </Layout>
  );
}

/** The navigation of the pages a caller sees: only those with a `nav` label, the current one marked. */
export function navFor(pages: Page[], path: string): NavItem[] {
  return pages
    .filter((p) => p.nav && !p.path.includes(":"))
    .map((p) => ({ href: `#${p.path}`, label: p.nav as string, current: match(p.path, path) !== null }));
}

/** The page's folder address when it was opened without the trailing slash (`/h5`, which the
 * pages bucket also answers with index.html), else null: its relative `config.json` and assets
 * resolve against the folder, so `/h5` would read `/config.json` and fail. */
export function folderAddress(pathname: string): string | null {
  if (pathname.endsWith("/") || pathname.endsWith(".html")) return null;
  return `${pathname}/`;
}

/** Start a page: call once from its main.tsx. */
export async function start(app: AppDefinition): Promise<void> {
  const root = document.getElementById("app")!;
  const folder = folderAddress(window.location.pathname);
  if (folder) {
    window.location.replace(`${folder}${window.location.search}${window.location.hash}`);
    return;
  }
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
