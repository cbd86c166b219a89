import { describe, expect, it } from "vitest";
import { paperImageUrl } from "./paper";

describe("the paper card image", () => {
  it("is a data: URL of the API's base64", () => {
    expect(paperImageUrl("iVBORw0KGgo=")).toBe("data:image/png;base64,iVBORw0KGgo=");
    expect(paperImageUrl("iVBO\nRw0K")).toBe("data:image/png;base64,iVBORw0K");
  });

  it("refuses anything else", () => {
    expect(paperImageUrl("")).toBeNull();
    expect(paperImageUrl('"><script>')).toBeNull();
    expect(paperImageUrl("javascript:alert(1)")).toBeNull();
  });
});
