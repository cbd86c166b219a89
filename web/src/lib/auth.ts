/** Who is signed in. The token lives in sessionStorage only (gone with the tab; never in
 * localStorage, never left in a URL). Its payload is decoded for display only — the API checks
 * the signature and every permission; the page never trusts what it decodes. */
import { config } from "./config";

const TOKEN_KEY = "hc.token";
const STATE_KEY = "hc.oidc.state";
const VERIFIER_KEY = "hc.oidc.verifier";

/** The roles the API knows (protection/auth.py). */
export const ROLES = ["citizen", "scanner", "venue_manager", "official", "admin"] as const;
export type Role = (typeof ROLES)[number];

export interface Session {
  token: string;
  sub: string;
  roles: string[];
  region: string | null;
  /** Seconds since the epoch. */
  exp: number;
}

/** Storage is injectable so Vitest can run without a browser. */
let storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null =
  typeof sessionStorage === "undefined" ? null : sessionStorage;

export function useStorage(value: Pick<Storage, "getItem" | "setItem" | "removeItem">): void {
  storage = value;
}

function store(): Pick<Storage, "getItem" | "setItem" | "removeItem"> {
  if (!storage) throw new Error("no sessionStorage");
  return storage;
}

function base64UrlDecode(text: string): string {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export function base64UrlEncode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The claims of a JWT, unverified: for showing the role and area, never for deciding. */
export function decodeToken(token: string): Session | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(base64UrlDecode(parts[1])) as Record<string, unknown>;
    const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
    if (typeof claims.sub !== "string" || typeof claims.exp !== "number") return null;
    return {
      token,
      sub: claims.sub,
      roles,
      region: typeof claims.region === "string" ? claims.region : null,
      exp: claims.exp,
    };
  } catch {
    return null;
  }
}

/** The current session, or null when there is none or it has expired (sign in again). */
export function session(nowSeconds: number = Date.now() / 1000): Session | null {
  const token = store().getItem(TOKEN_KEY);
  if (!token) return null;
  const decoded = decodeToken(token);
  if (!decoded || decoded.exp <= nowSeconds) {
    store().removeItem(TOKEN_KEY);
    return null;
  }
  return decoded;
}

export function saveToken(token: string): Session {
  const decoded = decodeToken(token);
  if (!decoded) throw new Error("not a token");
  store().setItem(TOKEN_KEY, token);
  return decoded;
}

/** Sent on `window` when the token is dropped (sign-out, or the API refused it: 401), so the
 * shell shows the sign-in page instead of leaving a page that can no longer load anything. */
export const SIGNED_OUT_EVENT = "hc:signed-out";

export function signOut(): void {
  store().removeItem(TOKEN_KEY);
  if (typeof window !== "undefined") window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
}

/** mode "local": the stack's development identity provider mints a token for a chosen role. */
export async function signInLocally(
  sub: string,
  role: Role,
  region: string,
  fetcher: typeof fetch = fetch,
): Promise<Session> {
  const answer = await fetcher(`${config().apiBase}/_local/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sub, roles: [role], region }),
  });
  if (!answer.ok) throw new Error(`sign-in refused: HTTP ${answer.status}`);
  const body = (await answer.json()) as { token: string };
  return saveToken(body.token);
}

// -- mode "oidc": authorization code + PKCE (RFC 7636, S256) --------------------------------

export function randomVerifier(): string {
  return base64UrlEncode(crypto.getRandomValues(new Uint8Array(32)));
}

export async function challengeFor(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64UrlEncode(new Uint8Array(digest));
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

async function discover(fetcher: typeof fetch): Promise<Discovery> {
  const answer = await fetcher(`${config().issuer}/.well-known/openid-configuration`);
  if (!answer.ok) throw new Error(`OIDC discovery: HTTP ${answer.status}`);
  return (await answer.json()) as Discovery;
}

/** The page's own address without query or hash: where the provider sends the code back. */
export function redirectUri(location: Pick<Location, "origin" | "pathname">): string {
  return `${location.origin}${location.pathname}`;
}

/** The URL to send the browser to; the state and verifier wait in sessionStorage. */
export async function authorizationUrl(
  location: Pick<Location, "origin" | "pathname">,
  fetcher: typeof fetch = fetch,
): Promise<string> {
  const discovery = await discover(fetcher);
  const verifier = randomVerifier();
  const state = randomVerifier();
  store().setItem(VERIFIER_KEY, verifier);
  store().setItem(STATE_KEY, state);
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config().clientId,
    redirect_uri: redirectUri(location),
    scope: "openid",
    state,
    code_challenge: await challengeFor(verifier),
    code_challenge_method: "S256",
  });
  return `${discovery.authorization_endpoint}?${query}`;
}

/** The callback: check the state, exchange the code (once) with the verifier, keep the token. */
export async function completeSignIn(
  search: string,
  location: Pick<Location, "origin" | "pathname">,
  fetcher: typeof fetch = fetch,
): Promise<Session> {
  const query = new URLSearchParams(search);
  const expected = store().getItem(STATE_KEY);
  const verifier = store().getItem(VERIFIER_KEY);
  store().removeItem(STATE_KEY);
  store().removeItem(VERIFIER_KEY);
  if (query.get("error")) throw new Error(`sign-in refused: ${query.get("error")}`);
  const code = query.get("code");
  if (!code || !expected || !verifier || query.get("state") !== expected) {
    throw new Error("sign-in state does not match");
  }
  const discovery = await discover(fetcher);
  const answer = await fetcher(discovery.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(location),
      client_id: config().clientId,
      code_verifier: verifier,
    }).toString(),
  });
  if (!answer.ok) throw new Error(`token exchange refused: HTTP ${answer.status}`);
  const body = (await answer.json()) as { id_token?: string; access_token?: string };
  const token = body.id_token ?? body.access_token;
  if (!token) throw new Error("no token in the answer");
  return saveToken(token);
}
