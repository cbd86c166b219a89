/** The venue form's values (strings, as typed) turned into the API's bodies: a registration
 * (`POST /v1/venues`) or a change (`PATCH /v1/venues/{id}`, only what changed). The page checks
 * only what it must to build a body (filled in, coordinates are numbers); everything else is
 * the API's to judge, and its Chinese message is shown beside the field it names. */
import { ApiError } from "../../lib/api";

export interface VenueFormValues {
  name: string;
  type: string;
  subject_name: string;
  credential_type: string;
  credential_number: string;
  region_code: string;
  lat: string;
  lng: string;
  address: string;
  manager_phone: string;
  zone: string;
  store_number: string;
  parent_venue_id: string;
  join_code: string;
}

/** A venue as `GET /v1/venues/{id}` answers it (the fields the pages read). */
export interface Venue {
  venue_id: string;
  name: string;
  type: string;
  type_label?: string | null;
  subject_name: string | null;
  credential_type: string | null;
  credential_masked: string | null;
  region_code: string;
  location: { lat: number; lng: number } | null;
  address: string;
  manager_phone_masked: string | null;
  parent_venue_id: string | null;
  code: string | null;
  code_url: string | null;
  code_generation: number | null;
  created_at: string | null;
  zone: string | null;
  store_number: string | null;
  status: "active" | "closed";
}

export const EMPTY_FORM: VenueFormValues = {
  name: "",
  type: "",
  subject_name: "",
  credential_type: "",
  credential_number: "",
  region_code: "",
  lat: "",
  lng: "",
  address: "",
  manager_phone: "",
  zone: "",
  store_number: "",
  parent_venue_id: "",
  join_code: "",
};

/** What the registration form must have before it is sent, with the words asking for it. */
const REQUIRED: [keyof VenueFormValues, string][] = [
  ["name", "请填写场所名称。"],
  ["type", "请选择场所类型。"],
  ["subject_name", "请填写主体名称。"],
  ["credential_type", "请选择证照类型。"],
  ["credential_number", "请填写证照号码。"],
  ["region_code", "请填写所在区县的行政区划代码。"],
  ["address", "请填写地址。"],
  ["manager_phone", "请填写负责人手机号。"],
];

/** A refusal made by the page itself, shaped as the API's so `<Field>` shows it beside `field`. */
export function localError(message: string, field: string | null = null): ApiError {
  return new ApiError(0, field ? "missing_field" : "local", message, field);
}

/** `{lat, lng}` from the two typed coordinates, or a refusal naming `location`. */
export function locationOf(lat: string, lng: string): { lat: number; lng: number } {
  const a = lat.trim();
  const b = lng.trim();
  if (!a || !b) throw localError("请填写场所位置的纬度和经度。", "location");
  const latitude = Number(a);
  const longitude = Number(b);
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) {
    throw localError("纬度和经度须为数字（例如 26.5783 和 106.7135）。", "location");
  }
  return { lat: latitude, lng: longitude };
}

/** The `POST /v1/venues` body, or a refusal (`ApiError` with `field`) for the first gap. */
export function registrationBody(values: VenueFormValues): Record<string, unknown> {
  for (const [name, message] of REQUIRED) {
    if (!values[name].trim()) throw localError(message, name);
  }
  const body: Record<string, unknown> = {
    name: values.name.trim(),
    type: values.type,
    subject_name: values.subject_name.trim(),
    credential_type: values.credential_type,
    credential_number: values.credential_number.trim(),
    region_code: values.region_code.trim(),
    location: locationOf(values.lat, values.lng),
    address: values.address.trim(),
    manager_phone: values.manager_phone.trim(),
  };
  for (const optional of ["zone", "store_number", "parent_venue_id", "join_code"] as const) {
    const value = values[optional].trim();
    if (value) body[optional] = value;
  }
  return body;
}

/** The form for changing `venue`: what it shows now; the phone and the credential number are
 * masked by the API, so their fields start empty (empty: unchanged). */
export function formFromVenue(venue: Venue): VenueFormValues {
  return {
    ...EMPTY_FORM,
    name: venue.name,
    type: venue.type,
    subject_name: venue.subject_name ?? "",
    credential_type: venue.credential_type ?? "",
    region_code: venue.region_code,
    lat: venue.location ? String(venue.location.lat) : "",
    lng: venue.location ? String(venue.location.lng) : "",
    address: venue.address,
    zone: venue.zone ?? "",
    store_number: venue.store_number ?? "",
  };
}

/** The `PATCH` body: only the fields that differ from `venue` (a field emptied is left as it
 * is: the API keeps a field sent as null). Nothing changed, or a new credential type without
 * its number, is refused here. */
export function changeBody(venue: Venue, values: VenueFormValues): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const text = (name: "name" | "address" | "subject_name" | "zone" | "store_number", was: string | null) => {
    const now = values[name].trim();
    if (now && now !== (was ?? "")) body[name] = now;
  };
  text("name", venue.name);
  text("address", venue.address);
  text("subject_name", venue.subject_name);
  text("zone", venue.zone);
  text("store_number", venue.store_number);
  if (values.manager_phone.trim()) body.manager_phone = values.manager_phone.trim();
  const number = values.credential_number.trim();
  const typeChanged = values.credential_type !== "" && values.credential_type !== (venue.credential_type ?? "");
  if (number) {
    if (!values.credential_type) throw localError("请选择证照类型。", "credential_type");
    body.credential_type = values.credential_type;
    body.credential_number = number;
  } else if (typeChanged) {
    throw localError("更换证照类型时请填写新的证照号码。", "credential_number");
  }
  if (values.lat.trim() || values.lng.trim()) {
    const location = locationOf(values.lat, values.lng);
    if (!venue.location || location.lat !== venue.location.lat || location.lng !== venue.location.lng) {
      body.location = location;
    }
  }
  if (Object.keys(body).length === 0) throw localError("没有需要保存的修改。");
  return body;
}

/** Whether the registration still lacks its subject credential (补全: a venue registered
 * before credentials were asked for). */
export function needsCredential(venue: Venue): boolean {
  return !venue.credential_type || !venue.subject_name;
}
