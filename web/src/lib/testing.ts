/** Helpers for Vitest: an in-memory sessionStorage and a configuration. */
import { useStorage } from "./auth";
import { type Config, setConfig } from "./config";

export function memoryStorage(): Storage {
  const values = new Map<string, string>();
  return {
    get length() {
      return values.size;
    },
    clear: () => values.clear(),
    getItem: (key) => values.get(key) ?? null,
    key: (index) => [...values.keys()][index] ?? null,
    removeItem: (key) => void values.delete(key),
    setItem: (key, value) => void values.set(key, String(value)),
  };
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  const value: Config = {
    apiBase: "https://api.example.test",
    mode: "local",
    issuer: "https://id.example.test/oidc",
    clientId: "healthcode-test",
    province: "520000",
    brand: "贵州健康码",
    ...overrides,
  };
  setConfig(value);
  return value;
}

/** A JWT-shaped token with these claims (unsigned: the page never verifies, the API does). */
export function fakeToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) =>
    btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(value))))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
  return `${part({ alg: "ES256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

export function freshSession(): Storage {
  const storage = memoryStorage();
  useStorage(storage);
  return storage;
}
