/** Presentation helpers shared by the customer and operator pages. */
import type { Job } from "../domain/job/model.ts";
import { html, type Html } from "./html.ts";

/** A state badge; the class only picks a colour, the text is the state's own name. */
export function badge(state: string, extra?: string, field?: string): Html {
  return html`<span
      class="badge badge-${state.toLowerCase()}"
      ${field ? html` data-field="${field}"` : undefined}
      >${state}</span
    >${extra ? html` <span class="badge badge-note">${extra}</span>` : undefined}`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0
    ? `${n} B`
    : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]} (${n.toLocaleString("en-US")} bytes)`;
}

/** `2026-11-25 10:04 UTC`, in a <time> element carrying the exact instant. */
export function time(iso: string | undefined): Html {
  if (!iso) return html`—`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return html`${iso}`;
  const shown = `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return html`<time datetime="${d.toISOString()}">${shown}</time>`;
}

/** A native progress bar with its number beside it (the number is what screen readers read). */
export function progress(percent: number | undefined, label: string, field?: string): Html {
  const p = percent === undefined ? undefined : Math.max(0, Math.min(100, Math.round(percent)));
  return html`<span class="progress" ${field ? html` data-progress="${field}"` : undefined}
    >${
      p === undefined
        ? html`<span class="progress-text muted">not reported</span>`
        : html`<progress max="100" value="${p}" aria-label="${label}">${p}%</progress
            ><span class="progress-text">${p}%</span>`
    }</span
  >`;
}

/** The states in which a job can still change without the customer (the pages poll then). */
export function isLive(job: Pick<Job, "state">): boolean {
  return job.state !== "Creating" && job.state !== "Completed" && job.state !== "Closed";
}

export function yesNo(b: boolean): string {
  return b ? "Yes" : "No";
}
