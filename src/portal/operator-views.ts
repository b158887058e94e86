/** The operator pages' templates (datacenter side, SPEC §3). */
import { driveAllows } from "../domain/job/drive-lifecycle.ts";
import type { EventType } from "../domain/job/lifecycle.ts";
import type { HistoryEntry, Job } from "../domain/job/model.ts";
import type { ClockReading } from "../service/clock-service.ts";
import type { OperatorView } from "../service/datacenter-service.ts";
import { badge, drivesTable, historyTimeline, isLive, progress, time } from "./format.ts";
import { html, type Html } from "./html.ts";
import { actorWords, deadlineWords, eventWords } from "../domain/job/history-words.ts";
import type { Form } from "./http.ts";
import { errorSummary, selectField, textArea, textField, type FieldError } from "./widgets.ts";

const enc = encodeURIComponent;

export const OPERATOR_HOME = "/portal/operator/";

export function operatorJobUrl(
  job: Pick<Job, "subscriptionId" | "resourceGroup" | "name">,
  action = "",
): string {
  return `/portal/operator/jobs/${enc(job.subscriptionId)}/${enc(job.resourceGroup)}/${enc(job.name)}${action ? `/${action}` : ""}`;
}

export function receiveUrl(trackingNumber?: string, driveIds?: string[]): string {
  const q = new URLSearchParams();
  if (trackingNumber) q.set("trackingNumber", trackingNumber);
  if (driveIds?.length) q.set("driveIds", driveIds.join("\n"));
  const s = q.toString();
  return `/portal/operator/receive${s ? `?${s}` : ""}`;
}

export function loginPage(next: string, error?: FieldError): Html {
  return html`<h1>Datacenter sign-in</h1>
    <p class="lead">
      The datacenter pages need the operator key: <code>DRIVEBAY_OPERATOR_KEY</code>, or
      <code>operator.key</code> in the data directory (printed by <code>drivebay serve</code>).
    </p>
    ${errorSummary(error)}
    <form method="post" action="/portal/operator/login" class="narrow">
      <input type="hidden" name="next" value="${next}" />
      ${textField("key", {
        label: "Operator key",
        type: "password",
        autocomplete: "current-password",
        error,
        required: true,
      })}
      <div class="buttons"><button type="submit">Sign in</button></div>
    </form>`;
}

function jobCell(j: Job): Html {
  return html`<th scope="row">
    <a href="${operatorJobUrl(j)}">${j.name}</a>
    <span class="sub">${j.resourceGroup} · <code>${j.subscriptionId}</code></span>
  </th>`;
}

/**
 * A table of jobs, one row a job: the job's cell, then `cells`; a paragraph `empty` when there
 * is no job.
 */
function jobsTable(
  jobs: Job[],
  o: { testId: string; empty: string; headings: (string | Html)[]; cells: (j: Job) => Html },
): Html {
  if (jobs.length === 0) return html`<p class="empty">${o.empty}</p>`;
  return html`<div class="table-wrap stack">
    <table data-testid="${o.testId}">
      <thead>
        <tr>
          <th scope="col">Job</th>
          ${o.headings.map((h) => html`<th scope="col">${h}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${jobs.map(
          (j) =>
            html`<tr data-job="${j.name}">
              ${jobCell(j)} ${o.cells(j)}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export function inboundTable(jobs: Job[]): Html {
  return jobsTable(jobs, {
    testId: "inbound-table",
    empty: "No package is on its way.",
    headings: ["Package", "Drives", "Shipped", html`<span class="visually-hidden">Actions</span>`],
    cells: (j) =>
      html`<td data-label="Package">
          ${
            j.deliveryPackage
              ? html`${j.deliveryPackage.carrierName}
                  <code>${j.deliveryPackage.trackingNumber}</code>`
              : "—"
          }
          ${j.cancelRequested ? html`<br /><span class="badge badge-note">cancel requested</span>` : undefined}
        </td>
        <td data-label="Drives">${j.driveList.map((d) => html`<code>${d.driveId}</code> `)}</td>
        <td data-label="Shipped">${time(j.stateEnteredAt)}</td>
        <td>
          <a
            class="button button-small"
            href="${receiveUrl(
              j.deliveryPackage?.trackingNumber,
              j.driveList.filter((d) => driveAllows(d, "arrive")).map((d) => d.driveId),
            )}"
            >Receive<span class="visually-hidden"> the package of ${j.name}</span></a
          >
        </td>`,
  });
}

export function workTable(jobs: Job[], testId: string, empty: string): Html {
  return jobsTable(jobs, {
    testId,
    empty,
    headings: ["State", "Progress", "Drives", "Since"],
    cells: (j) =>
      html`<td data-label="State">
          ${badge(j.state, j.cancelRequested ? "cancel requested" : undefined)}
          ${j.faultReason ? html`<p class="sub">${j.faultReason}</p>` : undefined}
        </td>
        <td data-label="Progress">${progress(j.percentComplete, `Progress of ${j.name}`)}</td>
        <td data-label="Drives">
          ${j.driveList.map(
            (d) => html`<span class="drive-chip"><code>${d.driveId}</code> ${d.state}</span> `,
          )}
        </td>
        <td data-label="Since">${time(j.stateEnteredAt)}</td>`,
  });
}

export function clockSection(clock: ClockReading, error?: FieldError): Html {
  const days = Math.round((clock.offsetMs / 86_400_000) * 100) / 100;
  return html`<section aria-labelledby="clock-heading" class="card" data-testid="clock">
    <h2 id="clock-heading">Service clock</h2>
    <p>
      Service time: <strong data-testid="clock-now">${time(clock.now)}</strong>${
        clock.offsetMs > 0 ? html` (${days} days ahead of real time)` : undefined
      }
    </p>
    ${errorSummary(error)}
    ${
      clock.controllable
        ? html`<form method="post" action="/portal/operator/clock/advance" class="inline-form">
            ${textField("by", {
              label: "Advance the clock by",
              placeholder: "91d",
              hint: "A duration: 91d, 12h, 30m, or ISO-8601 (P14D). Timers that fall due run at once.",
              error,
            })}
            <div class="buttons"><button type="submit">Advance</button></div>
          </form>`
        : html`<p class="hint">
            This service runs on real time (clock control is off outside the emulator profile).
          </p>`
    }
  </section>`;
}

export interface DashboardView {
  inbound: Job[];
  inboundMore: boolean;
  working: Job[];
  faulted: Job[];
  workingMore: boolean;
  clock: ClockReading;
  receive: Form;
  receiveError?: FieldError;
  clockError?: FieldError;
}

export function receiveForm(values: Form, error?: FieldError): Html {
  return html`${errorSummary(error)}
    <form method="post" action="/portal/operator/receive" data-testid="receive-form">
      <div class="fields">
        ${textField("trackingNumber", {
          label: "Tracking number",
          value: values.trackingNumber,
          error,
          required: true,
        })}
        ${textField("carrierName", {
          label: "Carrier (optional)",
          value: values.carrierName,
          error,
        })}
        ${textArea("driveIds", {
          label: "Drive IDs in the package (one per line)",
          value: values.driveIds,
          error,
          hint: "Drives of the job that are not listed are marked NeverReceived; unknown drives are recorded as extra drives.",
        })}
      </div>
      <div class="buttons"><button type="submit">Receive package</button></div>
    </form>`;
}

export function dashboardPage(v: DashboardView): Html {
  return html`<h1>Datacenter</h1>
    <section aria-labelledby="receive-heading" class="card">
      <h2 id="receive-heading">Receive a package</h2>
      ${receiveForm(v.receive, v.receiveError)}
    </section>
    <section aria-labelledby="inbound-heading">
      <h2 id="inbound-heading">Inbound jobs and packages</h2>
      ${inboundTable(v.inbound)}
      ${v.inboundMore ? html`<p><a href="/portal/operator/jobs?view=inbound">All inbound jobs</a></p>` : undefined}
    </section>
    <section aria-labelledby="work-heading">
      <h2 id="work-heading">Received, transferring and packaging</h2>
      ${workTable(v.working, "work-table", "No job is being worked on.")}
      ${
        v.workingMore
          ? html`<p><a href="/portal/operator/jobs?view=in-progress">All jobs in progress</a></p>`
          : undefined
      }
    </section>
    <section aria-labelledby="faults-heading">
      <h2 id="faults-heading">Faults</h2>
      ${workTable(v.faulted, "faults-table", "No job is faulted.")}
    </section>
    ${clockSection(v.clock, v.clockError)}
    <p><a href="/portal/operator/jobs?view=all">All jobs</a></p>`;
}

export const VIEW_TITLES: Record<OperatorView, string> = {
  inbound: "Inbound jobs",
  "in-progress": "Jobs in progress",
  all: "All jobs",
};

export function jobsPage(view: OperatorView, jobs: Job[], nextAfter?: number): Html {
  return html`<h1>${VIEW_TITLES[view]}</h1>
    <nav aria-label="Views" class="tabs">
      ${(Object.keys(VIEW_TITLES) as OperatorView[]).map(
        (k) =>
          html`<a
            href="/portal/operator/jobs?view=${k}"
            ${k === view ? html` aria-current="page"` : undefined}
            >${VIEW_TITLES[k]}</a
          >`,
      )}
    </nav>
    ${view === "inbound" ? inboundTable(jobs) : workTable(jobs, "jobs-table", "No jobs.")}
    <nav class="pager" aria-label="Pages">
      ${
        nextAfter !== undefined
          ? html`<a href="/portal/operator/jobs?view=${view}&amp;after=${nextAfter}" rel="next"
              >Next page</a
            >`
          : undefined
      }
    </nav>`;
}

export interface OperatorJobView {
  job: Job;
  history: HistoryEntry[];
  actions: EventType[];
  values: Form;
  error?: FieldError;
}

function post(job: Job, action: string, label: string, body?: Html, danger = false): Html {
  return html`<form method="post" action="${operatorJobUrl(job, action)}" class="action-form">
    ${body}
    <div class="buttons">
      <button type="submit" ${danger ? html` class="button-danger"` : undefined}>${label}</button>
    </div>
  </form>`;
}

export function operatorJobPage(v: OperatorJobView): Html {
  const { job, values, error } = v;
  const can = (a: EventType) => v.actions.includes(a);
  const forms: Html[] = [];
  if (can("receivePackage")) {
    forms.push(
      html`<p>
        <a
          class="button button-secondary"
          href="${receiveUrl(
            job.deliveryPackage?.trackingNumber,
            job.driveList.filter((d) => driveAllows(d, "arrive")).map((d) => d.driveId),
          )}"
          >Receive a package for this job</a
        >
      </p>`,
    );
  }
  if (can("startTransfer")) forms.push(post(job, "transfer/start", "Start transfer"));
  if (can("package")) forms.push(post(job, "package", "Package drives for return"));
  if (can("shipBack")) {
    forms.push(
      post(
        job,
        "ship-back",
        "Ship back",
        html`<fieldset>
          <legend>Return package</legend>
          <div class="fields">
            ${textField("carrierName", { label: "Carrier", value: values.carrierName, error })}
            ${textField("trackingNumber", { label: "Tracking number", value: values.trackingNumber, error })}
            ${textField("shipDate", { label: "Ship date (optional)", type: "date", value: values.shipDate, error })}
            ${textField("driveCount", {
              label: "Drives in the package (optional)",
              value: values.driveCount,
              inputmode: "numeric",
              error,
            })}
          </div>
        </fieldset>`,
      ),
    );
  }
  if (can("fault")) {
    forms.push(
      post(
        job,
        "fault",
        "Mark as faulted",
        textField("reason", { label: "Fault reason", value: values.reason, error, wide: true }),
        true,
      ),
    );
  }
  if (can("resolve")) {
    forms.push(
      post(
        job,
        "resolve",
        "Resolve fault",
        textField("reason", { label: "Resolution", value: values.reason, error, wide: true }),
      ),
    );
  }
  return html`<div
    class="job"
    data-testid="operator-job"
    data-state="${job.state}"
    ${isLive(job) ? html` data-poll-url="${operatorJobUrl(job, "progress")}"` : undefined}
  >
    <h1>${job.name}</h1>
    <p class="lead">
      ${badge(job.state, job.cancelRequested ? "cancel requested" : undefined, "state")}
      ${job.jobType} job · resource group ${job.resourceGroup} · subscription
      <code>${job.subscriptionId}</code>
    </p>
    ${
      job.faultReason
        ? html`<p class="error-box">
            Faulted (from ${job.faultedFrom ?? "?"}): ${job.faultReason}
          </p>`
        : undefined
    }
    ${errorSummary(error)}
    <section aria-labelledby="progress-heading">
      <h2 id="progress-heading">Progress</h2>
      <p>${progress(job.percentComplete, "Job progress", "job")}</p>
    </section>
    <section aria-labelledby="drives-heading">
      <h2 id="drives-heading">Drives</h2>
      ${drivesTable(
        job.driveList,
        {
          heading: "Contents",
          cell: (d) =>
            html`<td data-label="Contents">
              ${d.contentPath ? html`<code class="wrap">${d.contentPath}</code>` : html`<span class="muted">Not attached</span>`}
            </td>`,
        },
        {
          heading: "Action",
          cell: (d) =>
            html`<td>
              ${
                can("attachDrive") && driveAllows(d, "attach")
                  ? html`<form
                      method="post"
                      action="${operatorJobUrl(job, `drives/${enc(d.driveId)}/attach`)}"
                      class="inline-form"
                    >
                      ${textField(`path-${d.driveId}`, {
                        label: `Mounted path of drive ${d.driveId}`,
                        value: values[`path-${d.driveId}`] ?? d.contentPath,
                        placeholder: "/mnt/drive1",
                        error,
                      })}
                      <div class="buttons"><button type="submit">Attach</button></div>
                    </form>`
                  : undefined
              }
              ${
                can("completeDrive") && driveAllows(d, "complete")
                  ? html`<form
                      method="post"
                      action="${operatorJobUrl(job, `drives/${enc(d.driveId)}/complete`)}"
                      class="inline-form"
                    >
                      ${selectField(`outcome-${d.driveId}`, {
                        label: `Outcome for drive ${d.driveId}`,
                        options: [
                          { value: "Completed", label: "Completed" },
                          {
                            value: "CompletedMoreInfo",
                            label: "Completed with errors (more info)",
                          },
                        ],
                      })}
                      ${textField(`bytes-${d.driveId}`, {
                        label: "Bytes copied (optional)",
                        inputmode: "numeric",
                        error,
                      })}
                      <div class="buttons"><button type="submit">Complete drive</button></div>
                    </form>`
                  : undefined
              }
            </td>`,
        },
      )}
      ${
        (job.extraDrives ?? []).length > 0
          ? html`<h3>Drives that are not the job's</h3>
              <ul>
                ${(job.extraDrives ?? []).map(
                  (e) =>
                    html`<li>
                      <code>${e.driveId}</code> in package <code>${e.trackingNumber}</code>,
                      ${time(e.receivedAt)}
                    </li>`,
                )}
              </ul>`
          : undefined
      }
    </section>
    <section aria-labelledby="actions-heading">
      <h2 id="actions-heading">Actions</h2>
      ${forms.length > 0 ? forms : html`<p class="hint">No datacenter action is possible in the state ${job.state}.</p>`}
    </section>
    <section aria-labelledby="shipping-heading">
      <h2 id="shipping-heading">Packages</h2>
      <dl class="props">
        <dt>Inbound package</dt>
        <dd>
          ${
            job.deliveryPackage
              ? html`${job.deliveryPackage.carrierName}
                  <code>${job.deliveryPackage.trackingNumber}</code>`
              : "—"
          }
        </dd>
        <dt>Return shipping</dt>
        <dd>
          ${
            job.returnShipping
              ? html`${job.returnShipping.carrierName}, account
                  <code>${job.returnShipping.carrierAccountNumber}</code>`
              : "—"
          }
        </dd>
        <dt>Return address</dt>
        <dd>
          ${
            job.returnAddress
              ? html`${job.returnAddress.recipientName}, ${job.returnAddress.streetAddress1},
                ${job.returnAddress.postalCode} ${job.returnAddress.city},
                ${job.returnAddress.countryOrRegion}`
              : "—"
          }
        </dd>
        <dt>Return package</dt>
        <dd>
          ${
            job.returnPackage
              ? html`${job.returnPackage.carrierName}
                  <code>${job.returnPackage.trackingNumber}</code>
                  (${job.returnPackage.shipDate ?? ""})`
              : "—"
          }
        </dd>
        <dt>Next deadline</dt>
        <dd>
          ${job.dueAt ? html`${time(job.dueAt, { seconds: true })}: ${deadlineWords(job.dueEvent ?? "")}` : "—"}
        </dd>
      </dl>
    </section>
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      ${historyTimeline(v.history, {
        when: (h) =>
          html`${time(h.at, { seconds: true })} · ${actorWords(h.actor, "operator")} ·
          ${eventWords(h.event)}`,
        what: (h) => html`${h.from ?? "—"} → ${h.to ?? "(gone)"}`,
      })}
    </section>
  </div>`;
}

export function receivePage(values: Form, error?: FieldError): Html {
  return html`<h1>Receive a package</h1>
    ${receiveForm(values, error)}`;
}
