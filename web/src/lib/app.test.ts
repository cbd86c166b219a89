import { describe, expect, it } from "vitest";
import { folderAddress } from "./app";

describe("the page's folder address", () => {
  it("adds the slash a bare folder was opened without", () => {
    expect(folderAddress("/h5")).toBe("/h5/");
    expect(folderAddress("/console")).toBe("/console/");
  });

  it("leaves a folder or a page file as it is", () => {
    expect(folderAddress("/h5/")).toBeNull();
    expect(folderAddress("/console/index.html")).toBeNull();
  });
});
