/** The application form (申领健康码) as the page holds it, the body `POST /v1/codes` takes, and
 * the few checks the page makes before sending: only what needs no rules (a required field left
 * empty, a number that is not one). Everything else — the ID number's check character, whether a
 * region code is current, who may be a dependant — the API decides, and its Chinese message is
 * shown beside the field it names. */
import { ApiError } from "../lib/api";

export type DependantReason = "" | "minor" | "elderly" | "disability";

export interface Trip {
  regionCode: string;
  /** `YYYY-MM-DDTHH:MM` from a datetime-local input, China time. */
  leftAt: string;
}

export interface ApplicationForm {
  forWhom: "self" | "dependant";
  dependantReason: DependantReason;
  name: string;
  idType: string;
  idNumber: string;
  nationality: string;
  phone: string;
  address: string;
  regionCode: string;
  symptoms: string[];
  temperature: string;
  contactWithCase: boolean;
  contactWithFever: boolean;
  travel: Trip[];
}

export function emptyApplication(regionCode = ""): ApplicationForm {
  return {
    forWhom: "self",
    dependantReason: "",
    name: "",
    idType: "resident_id",
    idNumber: "",
    nationality: "",
    phone: "",
    address: "",
    regionCode,
    symptoms: [],
    temperature: "",
    contactWithCase: false,
    contactWithFever: false,
    travel: [],
  };
}

/** A China-time `YYYY-MM-DDTHH:MM` as an instant with its offset (the API stores UTC). */
export function chinaInstant(local: string): string {
  const trimmed = local.trim();
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(trimmed) ? `${trimmed}:00+08:00` : trimmed;
}

/** A temperature typed with a comma or full-width digits, as a number; null when empty. */
export function parseTemperature(text: string): number | null {
  const normalised = text.normalize("NFKC").trim().replace(",", ".");
  if (normalised === "") return null;
  return /^\d{2}(\.\d{1,2})?$/.test(normalised) ? Number(normalised) : Number.NaN;
}

function problem(field: string, message: string): ApiError {
  return new ApiError(0, "invalid_input", message, field);
}

/** What the page itself can tell is missing or malformed, one error per field, in form order. */
export function localProblems(form: ApplicationForm): ApiError[] {
  const found: ApiError[] = [];
  const required: [keyof ApplicationForm, string, string][] = [
    ["name", "name", "请填写姓名。"],
    ["idNumber", "id_number", "请填写证件号码。"],
    ["address", "address", "请填写居住地址。"],
  ];
  for (const [key, field, message] of required) {
    if (String(form[key]).trim() === "") found.push(problem(field, message));
  }
  if (form.idType === "passport" && form.nationality.trim() === "") {
    found.push(problem("nationality", "请填写护照上的国籍代码。"));
  }
  if (!/^\d{6}$/.test(form.regionCode.trim())) found.push(problem("region_code", "请填写六位数字的行政区划代码。"));
  const temperature = parseTemperature(form.temperature);
  if (temperature !== null && Number.isNaN(temperature)) {
    found.push(problem("declaration.temperature", "体温请填写数字，例如 36.5。"));
  }
  form.travel.forEach((trip, index) => {
    if (!/^\d{6}$/.test(trip.regionCode.trim())) {
      found.push(problem(`declaration.travel.${index}.region_code`, "请填写六位数字的行政区划代码。"));
    }
    if (trip.leftAt.trim() === "") found.push(problem(`declaration.travel.${index}.left_at`, "请填写离开日期。"));
  });
  return found;
}

/** The body of `POST /v1/codes`: optional fields are left out rather than sent empty. */
export function applicationBody(form: ApplicationForm): Record<string, unknown> {
  const temperature = parseTemperature(form.temperature);
  const declaration: Record<string, unknown> = {
    symptoms: [...form.symptoms].sort(),
    travel: form.travel.map((trip) => ({ region_code: trip.regionCode.trim(), left_at: chinaInstant(trip.leftAt) })),
    contact_with_case: form.contactWithCase,
    contact_with_fever: form.contactWithFever,
  };
  if (temperature !== null) declaration.temperature = temperature;
  const body: Record<string, unknown> = {
    name: form.name.trim(),
    id_number: form.idNumber.trim(),
    address: form.address.trim(),
    region_code: form.regionCode.trim(),
    declaration,
  };
  if (form.idType !== "resident_id") body.id_type = form.idType;
  if (form.idType === "passport") body.nationality = form.nationality.trim().toUpperCase();
  if (form.phone.trim() !== "") body.phone = form.phone.trim();
  if (form.forWhom === "dependant") {
    body.dependant = true;
    if (form.dependantReason) body.dependant_reason = form.dependantReason;
  }
  return body;
}

/** The fields the form shows for `form` (an error naming any other goes to the banner). */
export function shownApplicationFields(form: ApplicationForm): string[] {
  const fields = ["name", "id_type", "id_number", "phone", "address", "region_code", "declaration.symptoms", "declaration.temperature"];
  if (form.idType === "passport") fields.push("nationality");
  if (form.forWhom === "dependant") fields.push("dependant", "dependant_reason");
  form.travel.forEach((_, index) => fields.push(`declaration.travel.${index}.region_code`, `declaration.travel.${index}.left_at`));
  return fields;
}

/** The error to show beside `field`: a local problem first, else the API's answer. */
export function errorFor(field: string, problems: ApiError[], answer: unknown): ApiError | null {
  const local = problems.find((p) => p.field === field);
  if (local) return local;
  if (answer instanceof ApiError && answer.field !== null) {
    const named = answer.field;
    if (named === field || named.startsWith(`${field}.`) || named.startsWith(`${field}[`)) return answer;
  }
  return null;
}

/** An API answer about a field the form does not show (or about none): for the banner. */
export function unplacedError(answer: unknown, shownFields: readonly string[]): unknown {
  if (!(answer instanceof ApiError) || answer.field === null) return answer;
  const named = answer.field;
  return shownFields.some((f) => named === f || named.startsWith(`${f}.`) || named.startsWith(`${f}[`)) ? null : answer;
}
