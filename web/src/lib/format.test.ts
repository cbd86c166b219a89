import { describe, expect, it } from "vitest";
import { colourHex, colourName, textOn } from "./colour";
import { chinaDate, chinaDateTime, countdown, masked, secondsUntil } from "./format";
import { match } from "./router";

describe("China time", () => {
  it("shows UTC instants at UTC+8 whatever the machine's zone", () => {
    expect(chinaDateTime("2026-12-06T16:30:00Z")).toBe("2026-12-07 00:30");
    expect(chinaDate("2026-12-06T15:59:59Z")).toBe("2026-12-06");
    expect(chinaDate("2026-12-06T16:00:00Z")).toBe("2026-12-07");
  });

  it("counts down whole seconds, never below zero", () => {
    expect(secondsUntil("2026-12-06T00:05:00Z", Date.parse("2026-12-06T00:00:00.500Z"))).toBe(299);
    expect(secondsUntil("2026-12-06T00:00:00Z", Date.parse("2026-12-06T00:01:00Z"))).toBe(0);
    expect(countdown(299)).toBe("4:59");
    expect(masked("")).toBe("—");
  });
});

describe("colours", () => {
  it("takes the API's hex and falls back by name", () => {
    expect(colourHex("green", { colour_hex: "#00AA00" })).toBe("#00AA00");
    expect(colourHex("green", { colour_hex: "javascript:1" })).toBe("#1a7f37");
    expect(colourName("yellow")).toBe("黄码");
  });

  it("puts readable text on the colour", () => {
    expect(textOn("#f2c200")).toBe("#000000");
    expect(textOn("#c62828")).toBe("#ffffff");
  });
});

describe("routes", () => {
  it("matches patterns and decodes parameters", () => {
    expect(match("/codes/:personId", "/codes/p%2D1")).toEqual({ personId: "p-1" });
    expect(match("/codes/:personId", "/codes")).toBeNull();
    expect(match("/codes", "/codes?x=1")).toEqual({});
  });

  it("takes a malformed escape for no match instead of throwing", () => {
    expect(match("/codes/:personId", "/codes/%E0")).toBeNull();
    expect(match("/codes/:personId/history", "/codes/%/history")).toBeNull();
  });
});
