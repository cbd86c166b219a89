import { describe, expect, it } from "vitest";
import { ApiError } from "../lib/api";
import {
  applicationBody,
  chinaInstant,
  emptyApplication,
  errorFor,
  localProblems,
  parseTemperature,
  shownApplicationFields,
  unplacedError,
} from "./application";

function filled() {
  return {
    ...emptyApplication("520102"),
    name: " 张三 ",
    idNumber: "520103198506120015",
    phone: "13800000000",
    address: "贵州省贵阳市南明区花果园大街1号",
  };
}

describe("the application body", () => {
  it("sends what the API requires and leaves optional fields out", () => {
    const body = applicationBody(filled());
    expect(body).toEqual({
      name: "张三",
      id_number: "520103198506120015",
      phone: "13800000000",
      address: "贵州省贵阳市南明区花果园大街1号",
      region_code: "520102",
      declaration: { symptoms: [], travel: [], contact_with_case: false, contact_with_fever: false },
    });
  });

  it("marks a dependant with its reason, a passport with its nationality, trips in China time", () => {
    const body = applicationBody({
      ...filled(),
      forWhom: "dependant",
      dependantReason: "disability",
      idType: "passport",
      nationality: "usa",
      phone: "",
      temperature: "３７,５",
      symptoms: ["fever", "cough"],
      travel: [{ regionCode: "110101", leftAt: "2026-12-01T08:30" }],
    });
    expect(body).toMatchObject({ dependant: true, dependant_reason: "disability", id_type: "passport", nationality: "USA" });
    expect(body).not.toHaveProperty("phone");
    expect(body.declaration).toEqual({
      symptoms: ["cough", "fever"],
      temperature: 37.5,
      travel: [{ region_code: "110101", left_at: "2026-12-01T08:30:00+08:00" }],
      contact_with_case: false,
      contact_with_fever: false,
    });
  });

  it("reads temperatures and instants as typed", () => {
    expect(parseTemperature("")).toBeNull();
    expect(parseTemperature("36.5")).toBe(36.5);
    expect(parseTemperature("hot")).toBeNaN();
    expect(chinaInstant("2026-12-01T08:30")).toBe("2026-12-01T08:30:00+08:00");
    expect(chinaInstant("2026-12-01T00:30:00Z")).toBe("2026-12-01T00:30:00Z");
  });
});

describe("checks before sending", () => {
  it("passes a complete form", () => {
    expect(localProblems(filled())).toEqual([]);
  });

  it("names each empty or malformed field in Chinese", () => {
    const problems = localProblems({
      ...emptyApplication("52"),
      idType: "passport",
      temperature: "abc",
      travel: [{ regionCode: "", leftAt: "" }],
    });
    expect(problems.map((p) => p.field)).toEqual([
      "name",
      "id_number",
      "address",
      "nationality",
      "region_code",
      "declaration.temperature",
      "declaration.travel.0.region_code",
      "declaration.travel.0.left_at",
    ]);
    expect(problems[0].message).toBe("请填写姓名。");
  });

  it("places the API's error beside the field it names, else in the banner", () => {
    const answer = new ApiError(422, "invalid_id_number", "证件号码有误，请核对后重新输入。", "id_number");
    expect(errorFor("id_number", [], answer)).toBe(answer);
    expect(errorFor("name", [], answer)).toBeNull();
    const trip = new ApiError(422, "invalid_region_code", "x", "declaration.travel.0.region_code");
    expect(errorFor("declaration.travel.0.region_code", [], trip)).toBe(trip);
    expect(unplacedError(trip, ["declaration.travel.0.region_code"])).toBeNull();
    const elsewhere = new ApiError(409, "own_code_exists", "已有本人健康码", null);
    expect(unplacedError(elsewhere, ["name"])).toBe(elsewhere);
    expect(unplacedError(answer, ["name"])).toBe(answer);
  });

  it("sends an error about a field the form does not show to the banner", () => {
    const plain = shownApplicationFields(emptyApplication());
    expect(plain).not.toContain("nationality");
    const nationality = new ApiError(422, "nationality_not_allowed", "x", "nationality");
    expect(unplacedError(nationality, plain)).toBe(nationality);
    const travelling = shownApplicationFields({ ...emptyApplication(), idType: "passport", forWhom: "dependant", travel: [{ regionCode: "", leftAt: "" }] });
    expect(travelling).toEqual(expect.arrayContaining(["nationality", "dependant_reason", "declaration.travel.0.left_at"]));
    const tooMany = new ApiError(422, "too_many_trips", "x", "declaration.travel");
    expect(unplacedError(tooMany, travelling)).toBe(tooMany);
  });
});
