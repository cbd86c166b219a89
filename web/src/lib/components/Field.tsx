import type { ComponentChildren } from "preact";
import { ApiError } from "../api";

/** A labelled input whose error text is the API's message when the API names this field
 * (`error.field === name`), linked by aria-describedby so screen readers read it. */
export function Field(props: {
  name: string;
  label: string;
  error?: unknown;
  hint?: string;
  children: (attributes: { id: string; name: string; "aria-invalid": boolean; "aria-describedby"?: string }) => ComponentChildren;
}) {
  const id = `field-${props.name}`;
  const message = fieldError(props.error, props.name);
  const describedBy = [props.hint ? `${id}-hint` : "", message ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class={`field${message ? " field-invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {props.children({ id, name: props.name, "aria-invalid": Boolean(message), "aria-describedby": describedBy || undefined })}
      {props.hint && (
        <p class="field-hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      {message && (
        <p class="field-error" id={`${id}-error`}>
          {message}
        </p>
      )}
    </div>
  );
}

/** The API's message when `error` is about `name` (its `field` is the name or starts with it). */
export function fieldError(error: unknown, name: string): string | null {
  if (!(error instanceof ApiError) || !error.field) return null;
  return error.field === name || error.field.startsWith(`${name}.`) || error.field.startsWith(`${name}[`)
    ? error.message
    : null;
}
