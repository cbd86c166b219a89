import { describe, expect, it } from "vitest";
import { WriteKeys } from "./retry";

describe("idempotency keys", () => {
  it("keeps the key while the body stays the same and changes it with the body", () => {
    let n = 0;
    const keys = new WriteKeys(() => `k${++n}`);
    expect(keys.keyFor({ a: 1 })).toBe("k1");
    expect(keys.keyFor({ a: 1 })).toBe("k1");
    expect(keys.keyFor({ a: 2 })).toBe("k2");
    keys.done();
    expect(keys.keyFor({ a: 2 })).toBe("k3");
  });
});
