import { describe, expect, it } from "vitest";
import { memoryStorage } from "../lib/testing";
import { cleanCheckpoint, saveCheckpoint, savedCheckpoint } from "./checkpoint";

describe("the staff member's checkpoint", () => {
  it("accepts a venue id and refuses blanks and spaces", () => {
    expect(cleanCheckpoint("  v-0123abcd ")).toBe("v-0123abcd");
    expect(cleanCheckpoint("")).toBeNull();
    expect(cleanCheckpoint("v 1")).toBeNull();
    expect(cleanCheckpoint("卡口")).toBeNull();
  });

  it("is kept per account", () => {
    const storage = memoryStorage();
    saveCheckpoint("scanner-a", "v-1", storage);
    expect(savedCheckpoint("scanner-a", storage)).toBe("v-1");
    expect(savedCheckpoint("scanner-b", storage)).toBeNull();
    saveCheckpoint("scanner-a", null, storage);
    expect(savedCheckpoint("scanner-a", storage)).toBeNull();
  });
});
