/** Form controls: every one has a <label>, and an error is tied to its field with aria-describedby. */
import { html, type Html } from "./html.ts";

export interface FieldError {
  /** The form field the error belongs to, when the API named one. */
  field?: string;
  code: string;
  message: string;
}

export interface FieldOptions {
  label: string;
  value?: string;
  hint?: string;
  error?: FieldError;
  type?: "text" | "email" | "tel" | "date" | "number" | "password" | "search";
  autocomplete?: string;
  placeholder?: string;
  required?: boolean;
  inputmode?: "numeric" | "text";
  /** Extra class on the wrapper (layout only). */
  wide?: boolean;
}

export const fieldId = (name: string) => `f-${name}`;

function describedBy(name: string, o: { hint?: string; error?: FieldError }): string | undefined {
  const ids = [
    o.hint ? `${fieldId(name)}-hint` : "",
    o.error?.field === name ? `${fieldId(name)}-error` : "",
  ].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

function help(name: string, o: { hint?: string; error?: FieldError }): Html {
  return html`${o.hint ? html`<p class="hint" id="${fieldId(name)}-hint">${o.hint}</p>` : undefined}${
    o.error?.field === name
      ? html`<p class="field-error" id="${fieldId(name)}-error">${o.error.message}</p>`
      : undefined
  }`;
}

function invalid(name: string, error: FieldError | undefined): Html | undefined {
  return error?.field === name ? html` aria-invalid="true"` : undefined;
}

export function textField(name: string, o: FieldOptions): Html {
  const d = describedBy(name, o);
  return html`<div
    class="field${o.wide ? " field-wide" : ""}${o.error?.field === name ? " field-invalid" : ""}"
  >
    <label for="${fieldId(name)}">${o.label}</label>
    <input
      id="${fieldId(name)}"
      name="${name}"
      type="${o.type ?? "text"}"
      value="${o.value ?? ""}"
      ${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : html` autocomplete="off"`}${
        o.placeholder ? html` placeholder="${o.placeholder}"` : undefined
      }${o.inputmode ? html` inputmode="${o.inputmode}"` : undefined}${o.required ? html` required` : undefined}${
        d ? html` aria-describedby="${d}"` : undefined
      }${invalid(name, o.error)}
    />${help(name, o)}
  </div>`;
}

export function textArea(name: string, o: FieldOptions & { rows?: number }): Html {
  const d = describedBy(name, o);
  return html`<div class="field field-wide${o.error?.field === name ? " field-invalid" : ""}">
    <label for="${fieldId(name)}">${o.label}</label>
    <textarea
      id="${fieldId(name)}"
      name="${name}"
      rows="${o.rows ?? 3}"
      ${
        o.placeholder ? html` placeholder="${o.placeholder}"` : undefined
      }${d ? html` aria-describedby="${d}"` : undefined}${invalid(name, o.error)}
    >
${o.value ?? ""}</textarea
    >${help(name, o)}
  </div>`;
}

export function selectField(
  name: string,
  o: FieldOptions & { options: { value: string; label: string }[] },
): Html {
  const d = describedBy(name, o);
  return html`<div class="field${o.error?.field === name ? " field-invalid" : ""}">
    <label for="${fieldId(name)}">${o.label}</label>
    <select
      id="${fieldId(name)}"
      name="${name}"
      ${d ? html` aria-describedby="${d}"` : undefined}${invalid(name, o.error)}
    >
      ${o.options.map(
        (opt) =>
          html`<option
            value="${opt.value}"
            ${opt.value === (o.value ?? "") ? html` selected` : undefined}
          >
            ${opt.label}
          </option>`,
      )}</select
    >${help(name, o)}
  </div>`;
}

export function checkbox(
  name: string,
  o: { label: string; checked: boolean; hint?: string },
): Html {
  return html`<div class="field field-check">
    <input
      id="${fieldId(name)}"
      name="${name}"
      type="checkbox"
      ${o.checked ? html` checked` : undefined}${
        o.hint ? html` aria-describedby="${fieldId(name)}-hint"` : undefined
      }
    />
    <label for="${fieldId(name)}">${o.label}</label>${help(name, o)}
  </div>`;
}

/**
 * The error summary at the top of a form: the API's code and message, with a link to the
 * field it names. `autofocus` moves keyboard and screen-reader users straight to it.
 */
export function errorSummary(error: FieldError | undefined): Html | undefined {
  if (!error) return undefined;
  return html`<div class="error-box" role="alert" tabindex="-1" id="error-summary" data-autofocus>
    <h2>The request was refused</h2>
    <p>
      <code data-testid="error-code">${error.code}</code>:
      <span data-testid="error-message">${error.message}</span>
    </p>
    ${error.field ? html`<p><a href="#${fieldId(error.field)}">Go to the field</a></p>` : undefined}
  </div>`;
}
