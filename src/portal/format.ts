/** Presentation helpers shared by the customer and operator pages. */
import { inDatacenterHands } from "../domain/job/lifecycle.ts";
import type { Drive, HistoryEntry, Job } from "../domain/job/model.ts";
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

/**
 * `2026-11-25 10:04 UTC` (`10:04:07` with `seconds`, as a history needs), in a <time>
 * element carrying the exact instant.
 */
export function time(iso: string | undefined, o: { seconds?: boolean } = {}): Html {
  if (!iso) return html`—`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return html`${iso}`;
  const shown = `${d
    .toISOString()
    .slice(0, o.seconds ? 19 : 16)
    .replace("T", " ")} UTC`;
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

/** The job can still change without the customer (the pages poll then). */
export function isLive(job: Pick<Job, "state">): boolean {
  return inDatacenterHands(job);
}

export function yesNo(b: boolean): string {
  return b ? "Yes" : "No";
}

/** One column of a drives table that differs between the pages: its heading and its cell (the whole `<td>`). */
export interface DriveColumn {
  heading: string;
  cell: (d: Drive) => Html;
}

/**
 * The drives table of a job page: drive, state, a page's own column, progress, bytes copied and
 * a page's own last column.
 */
export function drivesTable(drives: Drive[], third: DriveColumn, last: DriveColumn): Html {
  return html`<div class="table-wrap stack">
    <table class="drives">
      <thead>
        <tr>
          <th scope="col">Drive</th>
          <th scope="col">State</th>
          <th scope="col">${third.heading}</th>
          <th scope="col">Progress</th>
          <th scope="col">Bytes copied</th>
          <th scope="col">${last.heading}</th>
        </tr>
      </thead>
      <tbody>
        ${drives.map(
          (d) =>
            html`<tr data-drive="${d.driveId}">
              <th scope="row"><code>${d.driveId}</code></th>
              <td data-label="State">${badge(d.state, undefined, "driveState")}</td>
              ${third.cell(d)}
              <td data-label="Progress">
                ${progress(d.percentComplete, `Progress of drive ${d.driveId}`, "drive")}
              </td>
              <td data-label="Bytes copied" data-field="bytesSucceeded">
                ${bytes(d.bytesSucceeded)}
              </td>
              ${last.cell(d)}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** A drive in the JSON the job pages poll for progress. */
export function driveProgressJson(d: Drive): Record<string, unknown> {
  return {
    driveId: d.driveId,
    state: d.state,
    copyStatus: d.copyStatus,
    percentComplete: d.percentComplete,
    bytesSucceeded: d.bytesSucceeded,
    bytesText: bytes(d.bytesSucceeded),
  };
}

/**
 * A job's history as a timeline, oldest first: for each entry when (and who), what changed,
 * and the entry's reason.
 */
export function historyTimeline(
  history: HistoryEntry[],
  o: { testId?: string; when: (h: HistoryEntry) => Html; what: (h: HistoryEntry) => Html },
): Html {
  return html`<ol class="timeline" ${o.testId ? html`data-testid="${o.testId}"` : undefined}>
    ${history.map(
      (h) =>
        html`<li>
          <p class="when">${o.when(h)}</p>
          <p class="what">${o.what(h)}</p>
          <p class="why">${h.reason}</p>
        </li>`,
    )}
  </ol>`;
}
