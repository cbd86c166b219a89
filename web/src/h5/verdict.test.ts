import { describe, expect, it } from "vitest";
import { abnormalNote, verdictLabel, verdictView } from "./verdict";

describe("verdicts", () => {
  it("names each verdict the API gives, with a colour name beside the tone", () => {
    expect(verdictView("pass")).toMatchObject({ label: "通行", tone: "pass", toneName: "绿色" });
    expect(verdictView("dissuade")).toMatchObject({ label: "劝返", tone: "caution" });
    expect(verdictView("isolate")).toMatchObject({ label: "隔离", tone: "stop", toneName: "红色" });
    expect(verdictView("register")).toMatchObject({ label: "登记", tone: "register", toneName: "橙色" });
  });

  it("never shows an unknown verdict as a pass", () => {
    expect(verdictView("quarantine_hotel")).toMatchObject({ label: "quarantine_hotel", tone: "stop" });
    expect(verdictLabel("")).toBe("未知");
  });

  it("says why a scan is abnormal", () => {
    expect(abnormalNote(false, 38.5, "green")).toBeNull();
    expect(abnormalNote(true, 38.04, "green")).toBe("体温异常 38.0°C");
    expect(abnormalNote(true, null, "green")).toBe("体温异常");
    expect(abnormalNote(true, 36.5, "yellow")).toBe("健康码非绿码，体温 36.5°C");
    expect(abnormalNote(true, undefined, "red")).toBe("健康码非绿码");
  });
});
