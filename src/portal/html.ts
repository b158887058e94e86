/**
 * The portal's only way to make HTML: the `html` tagged template escapes every
 * interpolated value unless it is already `Html` (made by `html` itself), so text from a
 * job (names, tags, addresses, reasons) can never become markup. There is no raw-string
 * escape hatch on purpose.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
const SPECIAL = /[&<>"']/g;

export function escapeHtml(text: string): string {
  return text.replace(SPECIAL, (c) => ESCAPES[c]!);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.value;
  if (value === undefined || value === null || value === false) return "";
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

/**
 * `html\`<p>${text}</p>\`` — strings, numbers and anything else are escaped; `Html` values
 * and arrays of them are inserted as they are; `undefined`, `null` and `false` render
 * nothing (so `${cond && html\`…\`}` works). Attribute values must be double-quoted.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** Joins fragments with nothing between them. */
export function join(parts: readonly Html[]): Html {
  return new Html(parts.map((p) => p.value).join(""));
}

/** A link target for a URI that came from data: only http(s) URLs become links. */
export function safeHref(uri: string | undefined): string | undefined {
  if (!uri) return undefined;
  return /^https?:\/\//i.test(uri) ? uri : undefined;
}
