import { useState } from "preact/hooks";
import { authorizationUrl, type Role, type Session, signInLocally } from "../auth";
import { config } from "../config";
import { roleName, t } from "../i18n/messages";
import { ErrorBanner } from "./ErrorBanner";

/** Sign-in. mode "local": choose a role, a user id and an area; the stack mints the token.
 * mode "oidc": go to the identity provider (authorization code + PKCE). */
export function SignIn({ roles, onSignedIn }: { roles: readonly Role[]; onSignedIn: (session: Session) => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [role, setRole] = useState<Role>(roles[0]);
  const [sub, setSub] = useState("");
  const [area, setArea] = useState(config().province);

  if (config().mode === "oidc") {
    const go = async () => {
      setBusy(true);
      try {
        window.location.assign(await authorizationUrl(window.location));
      } catch (e) {
        setError(e);
        setBusy(false);
      }
    };
    return (
      <main class="sign-in content">
        <h1>{t.signInTitle}</h1>
        <ErrorBanner error={error} />
        <button type="button" class="primary" disabled={busy} onClick={go}>
          {busy ? t.signingIn : t.signInWithProvider}
        </button>
      </main>
    );
  }

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signInLocally(sub.trim(), role, area.trim()));
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <main class="sign-in content">
      <h1>{t.signInTitle}</h1>
      <form onSubmit={submit}>
        <ErrorBanner error={error} />
        <div class="field">
          <label for="sign-in-role">{t.role}</label>
          <select id="sign-in-role" name="role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
            {roles.map((r) => (
              <option key={r} value={r}>
                {roleName(r)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="sign-in-sub">{t.subject}</label>
          <input id="sign-in-sub" name="sub" required autocomplete="username" value={sub} onInput={(e) => setSub(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="sign-in-area">{t.area}</label>
          <input id="sign-in-area" name="area" required inputMode="numeric" pattern="[0-9]{6}" value={area} onInput={(e) => setArea(e.currentTarget.value)} />
        </div>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t.signingIn : t.signIn}
        </button>
      </form>
    </main>
  );
}
