import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, api } from "./api";
import { saveToken, session } from "./auth";
import { fakeToken, freshSession, testConfig } from "./testing";

function answer(status: number, body: unknown, type = "application/json"): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

describe("api", () => {
  let fetcher: ReturnType<typeof vi.fn>;
  const token = fakeToken({ sub: "u1", roles: ["citizen"], exp: Date.now() / 1000 + 600 });

  beforeEach(() => {
    freshSession();
    testConfig();
    saveToken(token);
    fetcher = vi.fn();
    vi.stubGlobal("fetch", fetcher);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("sends the bearer token, Chinese and JSON to the configured base", async () => {
    fetcher.mockResolvedValue(answer(200, { codes: [] }));
    expect(await api("/v1/codes", { query: { region_code: "520100", empty: "" } })).toEqual({ codes: [] });
    const [url, init] = fetcher.mock.calls[0];
    expect(url).toBe("https://api.example.test/v1/codes?region_code=520100");
    expect(init.method).toBe("GET");
    expect(init.headers.Authorization).toBe(`Bearer ${token}`);
    expect(init.headers["Accept-Language"]).toBe("zh-CN");
  });

  it("posts JSON with an idempotency key", async () => {
    fetcher.mockResolvedValue(answer(201, { appeal_id: "a1" }));
    await api("/v1/codes/p1/appeals", { body: { reason: "误判" }, idempotencyKey: "k-1" });
    const [, init] = fetcher.mock.calls[0];
    expect(init.method).toBe("POST");
    expect(init.headers["Content-Type"]).toBe("application/json");
    expect(init.headers["Idempotency-Key"]).toBe("k-1");
    expect(JSON.parse(init.body)).toEqual({ reason: "误判" });
  });

  it("throws the envelope's code, message and field", async () => {
    fetcher.mockResolvedValue(answer(422, { error: { code: "invalid_input", message: "身份证号码无效", field: "id_number" } }));
    const error = await api("/v1/codes", { body: {} }).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, code: "invalid_input", message: "身份证号码无效", field: "id_number" });
    expect(session()).not.toBeNull();
  });

  it("signs out on the authorizer's 401", async () => {
    fetcher.mockResolvedValue(answer(401, { message: "Unauthorized" }));
    const error = await api("/v1/codes").catch((e) => e);
    expect(error).toMatchObject({ status: 401, code: "unauthorized", signInAgain: true });
    expect(session()).toBeNull();
  });

  it("reads images and CSV as blobs", async () => {
    fetcher.mockResolvedValue(answer(200, "a,b\n1,2\n", "text/csv"));
    const blob = await api<Blob>("/v1/reports/scans.csv", { blob: true });
    expect(await blob.text()).toBe("a,b\n1,2\n");
  });

  it("turns a network failure into a Chinese error", async () => {
    fetcher.mockRejectedValue(new TypeError("Failed to fetch"));
    await expect(api("/v1/codes")).rejects.toMatchObject({ status: 0, code: "network" });
  });

  it("answers 204 with nothing", async () => {
    fetcher.mockResolvedValue(new Response(null, { status: 204 }));
    expect(await api("/v1/venues/v1", { method: "DELETE" })).toBeUndefined();
  });
});
