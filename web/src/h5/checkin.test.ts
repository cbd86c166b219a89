import { describe, expect, it } from "vitest";
import { checkinBody, defaultScanner } from "./checkin";

const own = { person_id: "p-own", colour: "green", risk_level: 0, name_masked: "张*", dependant: false };
const child = { person_id: "p-child", colour: "green", risk_level: 0, name_masked: "张**", dependant: true };

describe("check-in", () => {
  it("checks in the account's own person by default", () => {
    expect(defaultScanner([child, own])).toBe("p-own");
    expect(defaultScanner([child])).toBe("p-child");
    expect(defaultScanner([])).toBeNull();
  });

  it("sends each companion once and never the scanning person among them", () => {
    expect(checkinBody(" https://hc.local/v/abc ", "p-own", ["p-child", "p-own", "p-child"], { lat: 26.57, lng: 106.71 })).toEqual({
      venue_code: "https://hc.local/v/abc",
      person_id: "p-own",
      companions: ["p-child"],
      location: { lat: 26.57, lng: 106.71 },
    });
    expect(checkinBody("abc", "p-own", [], { lat: 1, lng: 2 })).not.toHaveProperty("companions");
  });
});
