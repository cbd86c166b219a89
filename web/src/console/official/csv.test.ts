import { describe, expect, it } from "vitest";
import { csvFileName, joinCsvPages } from "./csv";

describe("joinCsvPages", () => {
  it("keeps the header once and every row of every page, with a BOM", () => {
    const header = "date,region_code,venue_id,name,scans,abnormal\r\n";
    const joined = joinCsvPages([
      `${header}2026-12-06,520102,v-1,甲,3,0\r\n`,
      `${header}2026-12-06,520102,v-2,乙,0,0\r\n`,
      header,
    ]);
    expect(joined).toBe(`\uFEFF${header}2026-12-06,520102,v-1,甲,3,0\r\n2026-12-06,520102,v-2,乙,0,0\r\n`);
  });

  it("drops a BOM a page carries and ends a last line without a newline", () => {
    expect(joinCsvPages(["\uFEFFa,b\r\n1,2", "a,b\r\n3,4"])).toBe("\uFEFFa,b\r\n1,2\n3,4\n");
  });

  it("is empty without pages", () => {
    expect(joinCsvPages([])).toBe("");
  });

  it("names the file after the region and day", () => {
    expect(csvFileName("520102", "2026-12-06")).toBe("daily-scans-520102-2026-12-06.csv");
  });
});
