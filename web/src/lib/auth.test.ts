import { beforeEach, describe, expect, it, vi } from "vitest";
import { authorizationUrl, base64UrlEncode, challengeFor, completeSignIn, decodeToken, saveToken, session } from "./auth";
import { fakeToken, freshSession, testConfig } from "./testing";

const here = { origin: "https://hc.example.test", pathname: "/h5/" };
const discovery = {
  authorization_endpoint: "https://id.example.test/oidc/authorize",
  token_endpoint: "https://id.example.test/oidc/token",
};

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), { status, headers: { "Content-Type": "application/json" } });
}

describe("PKCE", () => {
  it("derives the RFC 7636 appendix B challenge", async () => {
    const octets = [
      116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240,
      91, 88, 5, 88, 83, 132, 141, 121,
    ];
    expect(base64UrlEncode(new Uint8Array(octets))).toBe("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    expect(await challengeFor("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("encodes base64url without padding", () => {
    expect(base64UrlEncode(new Uint8Array([251, 255, 1]))).toBe("-_8B");
  });
});

describe("OIDC sign-in", () => {
  beforeEach(() => {
    freshSession();
    testConfig({ mode: "oidc" });
  });

  it("sends S256, the client id, a state and this page as redirect_uri", async () => {
    const fetcher = vi.fn(async () => json(discovery));
    const url = new URL(await authorizationUrl(here, fetcher as unknown as typeof fetch));
    expect(url.origin + url.pathname).toBe(discovery.authorization_endpoint);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("client_id")).toBe("healthcode-test");
    expect(url.searchParams.get("redirect_uri")).toBe("https://hc.example.test/h5/");
    expect(url.searchParams.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("exchanges the code with the verifier whose challenge it sent", async () => {
    const token = fakeToken({ sub: "u1", roles: ["citizen"], exp: Date.now() / 1000 + 600 });
    const sent: RequestInit[] = [];
    const fetcher = vi.fn(async (url: string, init?: RequestInit) => {
      if (url.endsWith("/token")) {
        sent.push(init!);
        return json({ id_token: token, access_token: token, token_type: "Bearer", expires_in: 600 });
      }
      return json(discovery);
    });
    const start = new URL(await authorizationUrl(here, fetcher as unknown as typeof fetch));
    const state = start.searchParams.get("state")!;
    const signedIn = await completeSignIn(`code=abc&state=${state}`, here, fetcher as unknown as typeof fetch);
    expect(signedIn.sub).toBe("u1");
    const form = new URLSearchParams(String(sent[0].body));
    expect(form.get("grant_type")).toBe("authorization_code");
    expect(await challengeFor(form.get("code_verifier")!)).toBe(start.searchParams.get("code_challenge"));
    expect(session()?.token).toBe(token);
  });

  it("refuses a callback whose state is not the one it sent", async () => {
    const fetcher = vi.fn(async () => json(discovery));
    await authorizationUrl(here, fetcher as unknown as typeof fetch);
    await expect(completeSignIn("code=abc&state=forged", here, fetcher as unknown as typeof fetch)).rejects.toThrow(
      "state",
    );
    expect(fetcher).toHaveBeenCalledTimes(1); // discovery only: no token request
    expect(session()).toBeNull();
  });

  it("refuses a replayed callback (the state is used once)", async () => {
    const token = fakeToken({ sub: "u1", roles: [], exp: Date.now() / 1000 + 600 });
    const fetcher = vi.fn(async (url: string) => (url.endsWith("/token") ? json({ id_token: token }) : json(discovery)));
    const start = new URL(await authorizationUrl(here, fetcher as unknown as typeof fetch));
    const query = `code=abc&state=${start.searchParams.get("state")}`;
    await completeSignIn(query, here, fetcher as unknown as typeof fetch);
    await expect(completeSignIn(query, here, fetcher as unknown as typeof fetch)).rejects.toThrow("state");
  });
});

describe("session", () => {
  beforeEach(() => freshSession());

  it("decodes roles, region and expiry for display", () => {
    const decoded = decodeToken(fakeToken({ sub: "官员1", roles: ["official"], region: "520100", exp: 2000000000 }));
    expect(decoded).toMatchObject({ sub: "官员1", roles: ["official"], region: "520100", exp: 2000000000 });
  });

  it("forgets an expired token (sign in again)", () => {
    saveToken(fakeToken({ sub: "u", roles: ["citizen"], exp: 1000 }));
    expect(session(999)).not.toBeNull();
    expect(session(1000)).toBeNull();
    expect(session(0)).toBeNull(); // removed, not merely hidden
  });

  it("rejects what is not a token", () => {
    expect(decodeToken("not.a")).toBeNull();
    expect(decodeToken("a.b.c")).toBeNull();
    expect(() => saveToken("garbage")).toThrow();
  });
});
