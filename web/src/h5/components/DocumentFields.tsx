import type { ApiError } from "../../lib/api";
import { Field } from "../../lib/components/Field";
import { ID_TYPES, w } from "../words";

/** The identity document fields an application and a manual registration share. */
export interface DocumentForm {
  idType: string;
  idNumber: string;
  nationality: string;
}

/** Document type, number and (for a passport) nationality, each with the API's error beside it. */
export function DocumentFields(props: {
  form: DocumentForm;
  set: (patch: Partial<DocumentForm>) => void;
  err: (field: string) => ApiError | null;
}) {
  const { form, set, err } = props;
  return (
    <>
      <Field name="id_type" label={w.idType} error={err("id_type")}>
        {(a) => (
          <select {...a} value={form.idType} onChange={(e) => set({ idType: e.currentTarget.value })}>
            {Object.entries(ID_TYPES).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field name="id_number" label={w.idNumber} error={err("id_number")}>
        {(a) => <input {...a} autocomplete="off" value={form.idNumber} onInput={(e) => set({ idNumber: e.currentTarget.value })} />}
      </Field>
      {form.idType === "passport" && (
        <Field name="nationality" label={w.nationality} error={err("nationality")}>
          {(a) => <input {...a} maxLength={3} value={form.nationality} onInput={(e) => set({ nationality: e.currentTarget.value })} />}
        </Field>
      )}
    </>
  );
}
