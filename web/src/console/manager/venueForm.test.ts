import { describe, expect, it } from "vitest";
import { ApiError } from "../../lib/api";
import { fieldError } from "../../lib/components/Field";
import { changeBody, EMPTY_FORM, formFromVenue, registrationBody, type Venue, type VenueFormValues } from "./venueForm";

const filled: VenueFormValues = {
  ...EMPTY_FORM,
  name: " 花果园超市 ",
  type: "supermarket",
  subject_name: "花果园商业管理有限公司",
  credential_type: "uscc",
  credential_number: "91440300708461136T",
  region_code: "520102",
  lat: "26.5783",
  lng: "106.7135",
  address: "贵州省贵阳市南明区花果园大街1号",
  manager_phone: "13600000000",
};

const venue: Venue = {
  venue_id: "v-1",
  name: "花果园超市",
  type: "supermarket",
  subject_name: "花果园商业管理有限公司",
  credential_type: "uscc",
  credential_masked: "9144**********136T",
  region_code: "520102",
  location: { lat: 26.5783, lng: 106.7135 },
  address: "贵州省贵阳市南明区花果园大街1号",
  manager_phone_masked: "136****0000",
  parent_venue_id: null,
  code: "c",
  code_url: "https://hc.local/v/c",
  code_generation: 1,
  created_at: null,
  zone: null,
  store_number: null,
  status: "active",
};

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("not refused");
}

describe("registrationBody", () => {
  it("trims, sends numbers for the position and leaves out empty optional fields", () => {
    expect(registrationBody(filled)).toEqual({
      name: "花果园超市",
      type: "supermarket",
      subject_name: "花果园商业管理有限公司",
      credential_type: "uscc",
      credential_number: "91440300708461136T",
      region_code: "520102",
      location: { lat: 26.5783, lng: 106.7135 },
      address: "贵州省贵阳市南明区花果园大街1号",
      manager_phone: "13600000000",
    });
  });

  it("sends a store's complex and join code when given", () => {
    const body = registrationBody({ ...filled, parent_venue_id: " v-abc ", join_code: "JOIN", zone: "B1" });
    expect(body).toMatchObject({ parent_venue_id: "v-abc", join_code: "JOIN", zone: "B1" });
  });

  it("names the first missing field, in Chinese, where <Field> shows it", () => {
    const error = refusal(() => registrationBody({ ...filled, subject_name: "  " }));
    expect(error.field).toBe("subject_name");
    expect(fieldError(error, "subject_name")).toBe("请填写主体名称。");
  });

  it("refuses coordinates that are not numbers on the location field", () => {
    const error = refusal(() => registrationBody({ ...filled, lat: "北纬26度" }));
    expect(error.field).toBe("location");
    expect(refusal(() => registrationBody({ ...filled, lng: "" })).field).toBe("location");
  });
});

describe("changeBody", () => {
  it("sends only what changed", () => {
    const values = { ...formFromVenue(venue), name: "花果园超市（新店）", zone: "一层" };
    expect(changeBody(venue, values)).toEqual({ name: "花果园超市（新店）", zone: "一层" });
  });

  it("starts with empty phone and credential number (the API masks them)", () => {
    const values = formFromVenue(venue);
    expect(values.manager_phone).toBe("");
    expect(values.credential_number).toBe("");
    expect(values.credential_type).toBe("uscc");
  });

  it("sends a credential with its type, and refuses a new type without its number", () => {
    const base = formFromVenue(venue);
    expect(changeBody(venue, { ...base, credential_type: "business_licence", credential_number: "520102200001234" })).toEqual({
      credential_type: "business_licence",
      credential_number: "520102200001234",
    });
    expect(refusal(() => changeBody(venue, { ...base, credential_type: "id_number" })).field).toBe("credential_number");
  });

  it("completes a registration that had no credential", () => {
    const bare = { ...venue, credential_type: null, credential_masked: null, subject_name: null };
    const values = { ...formFromVenue(bare), subject_name: "张三烧烤店", credential_type: "id_number", credential_number: "520102198506121234" };
    expect(changeBody(bare, values)).toEqual({
      subject_name: "张三烧烤店",
      credential_type: "id_number",
      credential_number: "520102198506121234",
    });
  });

  it("sends a moved position, and refuses a form with no change", () => {
    const base = formFromVenue(venue);
    expect(changeBody(venue, { ...base, lat: "26.6" })).toEqual({ location: { lat: 26.6, lng: 106.7135 } });
    const nothing = refusal(() => changeBody(venue, base));
    expect(nothing.field).toBeNull();
    expect(nothing.message).toBe("没有需要保存的修改。");
  });
});
