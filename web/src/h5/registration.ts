/** 人工登记 at a checkpoint, for someone without a phone: the form, the body of
 * `POST /v1/manual-registrations`, and the checks the page makes before sending (what needs no
 * rules; the API checks the ID number and the rest, naming the field). */
import { ApiError } from "../lib/api";
import { parseTemperature } from "./application";

export interface RegistrationForm {
  name: string;
  idType: string;
  idNumber: string;
  nationality: string;
  phone: string;
  temperature: string;
  issuePaperCode: boolean;
}

export function emptyRegistration(): RegistrationForm {
  return { name: "", idType: "resident_id", idNumber: "", nationality: "", phone: "", temperature: "", issuePaperCode: false };
}

function problem(field: string, message: string): ApiError {
  return new ApiError(0, "invalid_input", message, field);
}

export function registrationProblems(form: RegistrationForm): ApiError[] {
  const found: ApiError[] = [];
  if (form.name.trim() === "") found.push(problem("name", "请填写姓名。"));
  if (form.idNumber.trim() === "") found.push(problem("id_number", "请填写证件号码。"));
  if (form.idType === "passport" && form.nationality.trim() === "") found.push(problem("nationality", "请填写护照上的国籍代码。"));
  const temperature = parseTemperature(form.temperature);
  if (temperature === null) found.push(problem("temperature", "请填写体温。"));
  else if (Number.isNaN(temperature)) found.push(problem("temperature", "体温请填写数字，例如 36.5。"));
  return found;
}

export function registrationBody(form: RegistrationForm, checkpointId: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: form.name.trim(),
    id_number: form.idNumber.trim(),
    temperature: parseTemperature(form.temperature),
    checkpoint_id: checkpointId,
  };
  if (form.idType !== "resident_id") body.id_type = form.idType;
  if (form.idType === "passport") body.nationality = form.nationality.trim().toUpperCase();
  if (form.phone.trim() !== "") body.phone = form.phone.trim();
  if (form.issuePaperCode) body.issue_paper_code = true;
  return body;
}

/** The body of `POST /v1/verifications`: the decoded code as read, the temperature when typed. */
export function verificationBody(code: string, checkpointId: string, temperature: string): Record<string, unknown> {
  const value = parseTemperature(temperature);
  return { code, checkpoint_id: checkpointId, ...(value !== null ? { temperature: value } : {}) };
}
