/** The page's settings, read from `config.json` beside it. The stack (or the deployment) writes
 * that file, so the bundle carries no address, issuer or client id of its own. */
export interface Config {
  /** Where the API answers; "" means the page's own origin. */
  apiBase: string;
  mode: "local" | "oidc";
  issuer: string;
  clientId: string;
  /** The province code: the default area at sign-in. */
  province: string;
  brand: string;
}

let loaded: Config | null = null;

export function parseConfig(value: unknown): Config {
  const raw = (value ?? {}) as Record<string, unknown>;
  const text = (key: string, fallback = ""): string =>
    typeof raw[key] === "string" ? (raw[key] as string) : fallback;
  const mode = raw.mode === "oidc" ? "oidc" : "local";
  return {
    apiBase: text("apiBase").replace(/\/+$/, ""),
    mode,
    issuer: text("issuer").replace(/\/+$/, ""),
    clientId: text("clientId"),
    province: text("province"),
    brand: text("brand", "健康码"),
  };
}

/** Load `config.json` once (relative to the page: /h5/config.json or /console/config.json). */
export async function loadConfig(fetcher: typeof fetch = fetch): Promise<Config> {
  if (loaded) return loaded;
  const answer = await fetcher("config.json", { cache: "no-store" });
  if (!answer.ok) throw new Error(`config.json: HTTP ${answer.status}`);
  loaded = parseConfig(await answer.json());
  return loaded;
}

/** The configuration loaded by `loadConfig` (call that first, in main.tsx). */
export function config(): Config {
  if (!loaded) throw new Error("config not loaded");
  return loaded;
}

/** For tests: use this configuration. */
export function setConfig(value: Config | null): void {
  loaded = value;
}
