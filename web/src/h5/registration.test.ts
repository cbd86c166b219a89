import { describe, expect, it } from "vitest";
import { emptyRegistration, registrationBody, registrationProblems, verificationBody } from "./registration";

describe("manual registration", () => {
  it("requires a name, an ID number and a temperature", () => {
    expect(registrationProblems(emptyRegistration()).map((p) => [p.field, p.message])).toEqual([
      ["name", "请填写姓名。"],
      ["id_number", "请填写证件号码。"],
      ["temperature", "请填写体温。"],
    ]);
    expect(registrationProblems({ ...emptyRegistration(), name: "王五", idNumber: "x", temperature: "烫" })).toHaveLength(1);
  });

  it("sends the checkpoint, the temperature as a number and asks for a paper code only when ticked", () => {
    const form = { ...emptyRegistration(), name: " 王五 ", idNumber: "520102195503010011", temperature: "37.6", issuePaperCode: true };
    expect(registrationBody(form, "v-1")).toEqual({
      name: "王五",
      id_number: "520102195503010011",
      temperature: 37.6,
      checkpoint_id: "v-1",
      issue_paper_code: true,
    });
    const passport = registrationBody({ ...form, idType: "passport", nationality: "gbr", phone: "13900000000", issuePaperCode: false }, "v-1");
    expect(passport).toMatchObject({ id_type: "passport", nationality: "GBR", phone: "13900000000" });
    expect(passport).not.toHaveProperty("issue_paper_code");
  });

  it("verifies a code with or without a temperature", () => {
    expect(verificationBody("eyJ.x.y", "v-1", "")).toEqual({ code: "eyJ.x.y", checkpoint_id: "v-1" });
    expect(verificationBody("eyJ.x.y", "v-1", "38.2")).toEqual({ code: "eyJ.x.y", checkpoint_id: "v-1", temperature: 38.2 });
  });
});
