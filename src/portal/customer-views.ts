/** The customer pages' templates. They show what the service returns; every decision comes in. */
import type { Drive, HistoryEntry, Job, JobState, JobType } from "../domain/job/model.ts";
import { JOB_STATES, JOB_TYPES, LOG_LEVELS } from "../domain/job/model.ts";
import { cancelEffect } from "../domain/job/cancel.ts";
import type { EventType } from "../domain/job/lifecycle.ts";
import type { LocationInfo } from "../domain/locations.ts";
import type { JobScope } from "../store/ports.ts";
import {
  badge,
  driveProgressJson,
  drivesTable,
  historyTimeline,
  isLive,
  progress,
  time,
  yesNo,
} from "./format.ts";
import {
  DELIVERY_PACKAGE_FIELDS,
  DRIVE_FIELDS,
  driveRows,
  RETURN_ADDRESS_FIELDS,
  RETURN_SHIPPING_FIELDS,
  tagLines,
  type WizardValues,
} from "./forms.ts";
import { html, type Html } from "./html.ts";
import { actorWords, eventWords } from "../domain/job/history-words.ts";
import { DRIVE_FILES, type DriveFile } from "./drive-logs.ts";
import type { Form } from "./http.ts";
import {
  checkbox,
  errorSummary,
  selectField,
  textArea,
  textField,
  type FieldError,
} from "./widgets.ts";

export interface Scope {
  subscriptionId: string;
  resourceGroup?: string;
}

const enc = encodeURIComponent;

export function listUrl(scope: Scope, query?: Record<string, string | undefined>): string {
  const base = scope.resourceGroup
    ? `/portal/subscriptions/${enc(scope.subscriptionId)}/resourceGroups/${enc(scope.resourceGroup)}/jobs`
    : `/portal/subscriptions/${enc(scope.subscriptionId)}/jobs`;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `${base}?${s}` : base;
}

export function jobUrl(
  job: Pick<Job, "subscriptionId" | "resourceGroup" | "name">,
  action = "",
): string {
  return `/portal/subscriptions/${enc(job.subscriptionId)}/resourceGroups/${enc(job.resourceGroup)}/jobs/${enc(job.name)}${action ? `/${action}` : ""}`;
}

/** The create wizard (not under `/jobs/`: "new" is a valid job name). */
export function newJobUrl(scope: Required<Scope>, jobType?: JobType): string {
  return `/portal/subscriptions/${enc(scope.subscriptionId)}/resourceGroups/${enc(scope.resourceGroup)}/create-job${jobType ? `?type=${jobType}` : ""}`;
}

function scopeText(scope: Scope): Html {
  return scope.resourceGroup
    ? html`resource group <strong>${scope.resourceGroup}</strong> of subscription
        <code>${scope.subscriptionId}</code>`
    : html`subscription <code>${scope.subscriptionId}</code> (all resource groups)`;
}

/** The development-auth "who am I": a subscription and, optionally, a resource group. */
/**
 * The subscriptions the caller may use: undefined under development auth (all of them, no
 * sign-in), "*" or a list under token auth.
 */
export type Grants = undefined | "*" | readonly string[];

function grantsHint(grants: Grants): Html {
  const rg = "Leave the resource group empty to see the jobs of the whole subscription.";
  if (grants === undefined) {
    return html`<p class="hint">Development sign-in: every subscription is allowed. ${rg}</p>`;
  }
  if (grants === "*") {
    return html`<p class="hint">Your access token is granted every subscription. ${rg}</p>`;
  }
  if (grants.length === 0) {
    return html`<p class="hint">
      Your access token is granted no subscription: ask the service's administrator.
    </p>`;
  }
  return html`<p class="hint">Your access token is granted these subscriptions. ${rg}</p>
    <ul class="granted" data-testid="granted">
      ${grants.map(
        (g) =>
          html`<li>
            <a href="${listUrl({ subscriptionId: g })}"><code>${g}</code></a>
          </li>`,
      )}
    </ul>`;
}

/**
 * The subscription the emulator's clients use when none is named (the CLI's
 * `--subscription` default): the scope page offers it when nothing else is remembered.
 */
export const DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";

/** At most this many subscription/resource group pairs on the scope page. */
export const MAX_SCOPES = 200;

/**
 * The subscriptions and resource groups that hold jobs, as the Azure portal lists yours:
 * every one under development auth, only the granted ones under token auth.
 */
function jobScopesList(scopes: readonly JobScope[]): Html {
  if (scopes.length === 0) {
    return html`<p class="hint" data-testid="no-scopes">
      No job yet in a subscription you can see. Name a subscription and resource group below to
      create the first one.
    </p>`;
  }
  const bySub = new Map<string, JobScope[]>();
  for (const s of scopes) {
    const k = s.subscriptionId.toLowerCase();
    bySub.set(k, [...(bySub.get(k) ?? []), s]);
  }
  const count = (n: number) => `${n} job${n === 1 ? "" : "s"}`;
  return html`<ul class="scopes" data-testid="scopes">
      ${[...bySub.values()].map((groups) => {
        const sub = groups[0]!.subscriptionId;
        const total = groups.reduce((n, g) => n + g.jobs, 0);
        return html`<li data-subscription="${sub}">
          <a href="${listUrl({ subscriptionId: sub })}"><code>${sub}</code></a>
          <span class="muted">${count(total)}</span>
          <ul>
            ${groups.map(
              (g) =>
                html`<li data-resource-group="${g.resourceGroup}">
                  <a href="${listUrl({ subscriptionId: sub, resourceGroup: g.resourceGroup })}"
                    >${g.resourceGroup}</a
                  >
                  <span class="muted">${count(g.jobs)}</span>
                </li>`,
            )}
          </ul>
        </li>`;
      })}
    </ul>
    ${
      scopes.length >= MAX_SCOPES
        ? html`<p class="hint">
            The first ${MAX_SCOPES} resource groups are shown; name another one below.
          </p>`
        : undefined
    }`;
}

export function scopeForm(scope: Scope | undefined, error?: FieldError, grants?: Grants): Html {
  return html`<form
    method="post"
    action="/portal/scope"
    class="scope-form"
    aria-labelledby="scope-heading"
  >
    <h2 id="scope-heading">Subscription and resource group</h2>
    ${grantsHint(grants)} ${errorSummary(error)}
    <div class="fields">
      ${textField("subscriptionId", {
        label: "Subscription ID",
        value: scope?.subscriptionId ?? "",
        error,
        required: true,
        wide: true,
      })}
      ${textField("resourceGroup", {
        label: "Resource group (optional)",
        value: scope?.resourceGroup ?? "",
        error,
      })}
    </div>
    <div class="buttons"><button type="submit">Show jobs</button></div>
  </form>`;
}

export function scopePage(
  scope: Scope | undefined,
  error: FieldError | undefined,
  grants: Grants,
  scopes: readonly JobScope[],
): Html {
  // Development auth: the emulator's default subscription is prefilled when none is remembered.
  const shown =
    scope ?? (grants === undefined ? { subscriptionId: DEFAULT_SUBSCRIPTION } : undefined);
  return html`<h1>Import/Export jobs</h1>
    <section class="scope-list" aria-labelledby="scopes-heading">
      <h2 id="scopes-heading">Subscriptions and resource groups with jobs</h2>
      ${jobScopesList(scopes)}
    </section>
    ${scopeForm(shown, error, grants)}`;
}

export type SortKey = "created" | "name" | "state" | "type" | "location";
export const SORT_KEYS: readonly SortKey[] = ["created", "name", "state", "type", "location"];
const SORT_LABELS: Record<SortKey, string> = {
  created: "Created",
  name: "Name",
  state: "State",
  type: "Type",
  location: "Location",
};

/** Newest first when the list is by creation; A to Z otherwise. */
export function defaultOrder(sort: SortKey): "asc" | "desc" {
  return sort === "created" ? "desc" : "asc";
}

/** The pages' keyset runs oldest first only for "created, ascending" (a page stays valid otherwise). */
export function oldestFirst(sort: SortKey, order: "asc" | "desc"): boolean {
  return sort === "created" && order === "asc";
}

export interface ListView {
  scope: Scope;
  grants?: Grants;
  jobs: Job[];
  state?: JobState;
  jobType?: JobType;
  top: number;
  sort: SortKey;
  order: "asc" | "desc";
  /** The keyset position of this page, the positions of the pages before it, and of the next. */
  after?: number;
  trail: number[];
  next?: number;
}

export function jobListPage(v: ListView): Html {
  const base = {
    state: v.state,
    type: v.jobType,
    top: v.top === 50 ? undefined : String(v.top),
  };
  const here = {
    ...base,
    sort: v.sort === "created" ? undefined : v.sort,
    order: v.order === defaultOrder(v.sort) ? undefined : v.order,
  };
  const at = (after: number | undefined, trail: number[]) =>
    listUrl(v.scope, {
      ...here,
      after: after === undefined ? undefined : String(after),
      trail: trail.length ? trail.join(".") : undefined,
    });
  const pageQuery = {
    after: v.after === undefined ? undefined : String(v.after),
    trail: v.trail.length ? v.trail.join(".") : undefined,
  };
  const sortLink = (key: SortKey, label: string) => {
    const active = v.sort === key;
    const order = active ? (v.order === "asc" ? "desc" : "asc") : defaultOrder(key);
    return html`<th
      scope="col"
      ${active ? html` aria-sort="${v.order === "asc" ? "ascending" : "descending"}"` : undefined}
    >
      <a
        href="${listUrl(v.scope, { ...base, ...(oldestFirst(key, order) === oldestFirst(v.sort, v.order) ? pageQuery : {}), sort: key === "created" ? undefined : key, order: order === defaultOrder(key) ? undefined : order })}"
        aria-label="${label}, sort ${order === "asc" ? "ascending" : "descending"}"
        >${label}${
          active
            ? html`<span aria-hidden="true">${v.order === "asc" ? " ▲" : " ▼"}</span>`
            : undefined
        }</a
      >
    </th>`;
  };
  const rg = v.scope.resourceGroup;
  const prev = v.trail.length > 0 ? v.trail[v.trail.length - 1] : undefined;
  return html`<h1>Import/Export jobs</h1>
    <p class="lead">Jobs in ${scopeText(v.scope)}.</p>
    <details class="scope-details">
      <summary>Change subscription or resource group</summary>
      <p><a href="/portal/jobs?choose=1">See every subscription and resource group with jobs</a></p>
      ${scopeForm(v.scope, undefined, v.grants)}
    </details>
    <div class="actions">
      ${
        rg
          ? html`<a
                class="button"
                href="${newJobUrl({ subscriptionId: v.scope.subscriptionId, resourceGroup: rg }, "Import")}"
                >Create import job</a
              >
              <a
                class="button button-secondary"
                href="${newJobUrl({ subscriptionId: v.scope.subscriptionId, resourceGroup: rg }, "Export")}"
                >Create export job</a
              >`
          : html`<p class="hint">Choose a resource group to create a job in it.</p>`
      }
    </div>
    <details class="filters-fold" data-testid="filters-fold">
      <summary class="button button-secondary">
        Filters and
        sorting${v.state || v.jobType ? html` <span class="badge badge-note">on</span>` : undefined}
      </summary>
      <form
        method="get"
        action="${listUrl(v.scope)}"
        class="filters"
        aria-labelledby="filter-heading"
      >
        <h2 id="filter-heading" class="visually-hidden">Filter the jobs</h2>
        ${selectField("state", {
          label: "State",
          value: v.state ?? "",
          options: [
            { value: "", label: "Any state" },
            ...JOB_STATES.map((s) => ({ value: s, label: s })),
          ],
        })}
        ${selectField("type", {
          label: "Type",
          value: v.jobType ?? "",
          options: [
            { value: "", label: "Any type" },
            ...JOB_TYPES.map((t) => ({ value: t, label: t })),
          ],
        })}
        ${selectField("top", {
          label: "Jobs per page",
          value: String(v.top),
          options: ["25", "50", "100"].map((n) => ({ value: n, label: n })),
        })}
        ${selectField("sort", {
          label: "Sort this page by",
          value: v.sort,
          options: SORT_KEYS.map((k) => ({ value: k, label: SORT_LABELS[k] })),
        })}
        ${selectField("order", {
          label: "Order",
          value: v.order,
          options: [
            { value: "asc", label: "Ascending" },
            { value: "desc", label: "Descending" },
          ],
        })}
        <div class="buttons">
          <button type="submit">Apply filters</button>
          ${v.state || v.jobType ? html`<a href="${listUrl(v.scope)}">Clear filters</a>` : undefined}
        </div>
      </form>
    </details>
    <h2 class="visually-hidden">Jobs</h2>
    ${
      v.jobs.length === 0
        ? html`<p class="empty" data-testid="no-jobs">
            ${v.after === undefined ? "There are no jobs here" : "There are no more jobs"}${v.state || v.jobType ? " that match the filters" : ""}.
          </p>`
        : html`<div class="table-wrap stack">
            <table class="jobs" data-testid="jobs-table">
              <caption>
                ${v.jobs.length} job${v.jobs.length === 1 ? "" : "s"} on this page, sorted by
                ${SORT_LABELS[v.sort].toLowerCase()}
                (${v.order === "asc" ? "ascending" : "descending"}); pages follow the order in which
                the jobs were created, ${oldestFirst(v.sort, v.order) ? "oldest" : "newest"} first.
              </caption>
              <thead>
                <tr>
                  ${sortLink("name", "Name")}
                  ${rg ? undefined : html`<th scope="col">Resource group</th>`}
                  ${sortLink("type", "Type")} ${sortLink("state", "State")}
                  ${sortLink("location", "Location")} ${sortLink("created", "Created")}
                  <th scope="col">Progress</th>
                </tr>
              </thead>
              <tbody>
                ${v.jobs.map(
                  (j) =>
                    html`<tr data-job="${j.name}">
                      <th scope="row"><a href="${jobUrl(j)}">${j.name}</a></th>
                      ${rg ? undefined : html`<td data-label="Resource group">${j.resourceGroup}</td>`}
                      <td data-label="Type">${j.jobType}</td>
                      <td data-label="State">
                        ${badge(j.state, j.cancelRequested ? "cancel requested" : undefined)}
                      </td>
                      <td data-label="Location">${j.location}</td>
                      <td data-label="Created">${time(j.systemData.createdAt)}</td>
                      <td data-label="Progress">
                        ${progress(j.percentComplete, `Progress of ${j.name}`)}
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
    }
    <nav class="pager" aria-label="Pages">
      ${v.after !== undefined ? html`<a href="${at(undefined, [])}">First page</a>` : undefined}
      ${
        v.after !== undefined
          ? html`<a href="${at(prev === 0 ? undefined : prev, v.trail.slice(0, -1))}" rel="prev"
              >Previous page</a
            >`
          : undefined
      }
      ${
        v.next !== undefined
          ? html`<a href="${at(v.next, [...v.trail, v.after ?? 0].slice(-50))}" rel="next"
              >Next page</a
            >`
          : undefined
      }
    </nav>`;
}

function addressLines(a: Record<string, string | undefined> | undefined): Html {
  if (!a) return html`<p class="muted">Not given yet.</p>`;
  const parts = [
    a.recipientName,
    a.streetAddress1,
    a.streetAddress2,
    [a.postalCode, a.city].filter(Boolean).join(" "),
    a.stateOrProvince,
    a.countryOrRegion,
    a.phone,
    a.email,
    a.additionalInformation,
  ].filter((p) => p !== undefined && p !== "");
  return html`<address>
    ${parts.map((p, i) => html`${i > 0 ? html`<br />` : undefined}${p}`)}
  </address>`;
}

function packageInfo(p: Job["deliveryPackage"]): Html {
  if (!p) return html`<p class="muted">Not given yet.</p>`;
  return html`<dl class="compact">
    <dt>Carrier</dt>
    <dd>${p.carrierName}</dd>
    <dt>Tracking number</dt>
    <dd>${p.trackingNumber}</dd>
    ${
      p.driveCount !== undefined
        ? html`<dt>Drives</dt>
            <dd>${p.driveCount}</dd>`
        : undefined
    }
    ${
      p.shipDate
        ? html`<dt>Ship date</dt>
            <dd>${p.shipDate}</dd>`
        : undefined
    }
  </dl>`;
}

/** A drive file through the portal's own route (the blob URL itself needs the account's key). */
function logLink(job: Job, d: Drive, file: DriveFile, label: string): Html | undefined {
  if (!d[DRIVE_FILES[file].field]) return undefined;
  const href = `${jobUrl(job)}/drives/${encodeURIComponent(d.driveId)}/${file}`;
  return html`<li>
    <a href="${href}" download data-file="${file}"
      >${label}<span class="visually-hidden"> of drive ${d.driveId}</span></a
    >
  </li>`;
}

export interface JobPageView {
  job: Job;
  history: HistoryEntry[];
  events: EventType[];
  /**
   * The emulator's dock, where the simulated datacenter writes export drives (the customer
   * reads them there); absent in the service profile, where drives are shipped back.
   */
  dock?: string;
}

/** An export job: where its drives can be read, their keys on request, what did not fit. */
function exportSection(v: JobPageView): Html | undefined {
  const { job } = v;
  if (job.jobType !== "Export") return undefined;
  // Export drives are recorded when the package arrives (each with its key).
  const written = job.driveList;
  const where = (d: Drive) => d.contentPath ?? `${v.dock}/${d.driveId}`;
  return html`<section aria-labelledby="export-heading" data-testid="export">
    <h2 id="export-heading">Reading the exported drives</h2>
    ${
      written.length === 0
        ? html`<p class="muted">
            The datacenter records the drives when your package arrives; each gets a BitLocker key
            then.
          </p>`
        : v.dock
          ? html`<p>
                In this emulator the datacenter's drives are folders on its machine (the simulated
                datacenter's are in its dock, <code>${v.dock}</code>). Read each drive there once
                its copy has finished, and check it with
                <code>drivebay drive verify --drive &lt;folder&gt;</code>.
              </p>
              <ul class="plain" data-testid="drive-locations">
                ${written.map(
                  (d) =>
                    html`<li data-drive-location="${d.driveId}">
                      Drive <code>${d.driveId}</code>: <code>${where(d)}</code>
                    </li>`,
                )}
              </ul>`
          : html`<p>
              The drives are shipped back to you in the return package. Unlock each with its
              BitLocker key, then check it with
              <code>drivebay drive verify --drive &lt;mounted drive&gt;</code>.
            </p>`
    }
    ${
      job.driveList.some((d) => d.bitLockerKey)
        ? html`<p>
            <a class="button button-secondary" href="${jobUrl(job, "bitlocker-keys")}"
              >Show the BitLocker keys</a
            >
          </p>`
        : undefined
    }
    ${
      job.incompleteBlobListUri
        ? html`<p data-testid="incomplete">
            Some blobs did not fit on the drives:
            <a href="${jobUrl(job, "incomplete-blob-list")}" download
              >download the incomplete blob list</a
            >
            (an XML blob list: create another export job with it to export the rest).
          </p>`
        : undefined
    }
  </section>`;
}

/** The BitLocker keys of a job's drives, shown only on request (BitLockerKeys_List). */
export function bitLockerKeysPage(
  job: Job,
  keys: { driveId: string; bitLockerKey: string }[],
): Html {
  return html`<h1>BitLocker keys of job ${job.name}</h1>
    <p class="lead">
      Keep these keys private: anyone with a drive and its key can read it. This page is not kept by
      your browser.
    </p>
    ${
      keys.length === 0
        ? html`<p class="muted">No drive of this job has a BitLocker key yet.</p>`
        : html`<div class="table-wrap stack">
            <table data-testid="bitlocker-keys">
              <thead>
                <tr>
                  <th scope="col">Drive</th>
                  <th scope="col">BitLocker recovery key</th>
                </tr>
              </thead>
              <tbody>
                ${keys.map(
                  (k) =>
                    html`<tr data-drive="${k.driveId}">
                      <th scope="row"><code>${k.driveId}</code></th>
                      <td data-label="Key"><code class="key">${k.bitLockerKey}</code></td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
    }
    <p><a href="${jobUrl(job)}">Back to job ${job.name}</a></p>`;
}

export function jobPage(v: JobPageView): Html {
  const { job } = v;
  const can = (e: EventType) => v.events.includes(e);
  const actions = [
    can("markShipping")
      ? html`<a class="button" href="${jobUrl(job, "ship")}">Mark as shipped</a>`
      : undefined,
    can("cancel")
      ? html`<a class="button button-secondary" href="${jobUrl(job, "cancel")}">Cancel job</a>`
      : undefined,
    can("delete")
      ? html`<a class="button button-danger" href="${jobUrl(job, "delete")}">Delete job</a>`
      : undefined,
  ].filter(Boolean);
  const tags = Object.entries(job.tags);
  return html`<div
    class="job"
    data-testid="job"
    data-state="${job.state}"
    ${isLive(job) ? html` data-poll-url="${jobUrl(job, "progress")}"` : undefined}
  >
    <h1>${job.name}</h1>
    <p class="lead">
      ${badge(job.state, job.cancelRequested ? "cancel requested" : undefined, "state")}
      ${job.jobType} job in ${job.location}
    </p>
    ${
      actions.length > 0
        ? html`<div class="actions" data-testid="actions">${actions}</div>`
        : html`<p class="hint" data-testid="actions">
            No action is possible in the state ${job.state}.
          </p>`
    }
    <section aria-labelledby="progress-heading">
      <h2 id="progress-heading">Progress</h2>
      <p>${progress(job.percentComplete, "Job progress", "job")}</p>
    </section>
    <section aria-labelledby="props-heading">
      <h2 id="props-heading">Properties</h2>
      <dl class="props">
        <dt>Type</dt>
        <dd>${job.jobType}</dd>
        <dt>State</dt>
        <dd data-field="stateText">${job.state}</dd>
        <dt>Location</dt>
        <dd>${job.location}</dd>
        <dt>Storage account</dt>
        <dd><code class="wrap">${job.storageAccountId}</code></dd>
        <dt>Created</dt>
        <dd>${time(job.systemData.createdAt)} by ${job.systemData.createdBy}</dd>
        <dt>Last modified</dt>
        <dd>${time(job.systemData.lastModifiedAt)} by ${job.systemData.lastModifiedBy}</dd>
        <dt>Cancel requested</dt>
        <dd>${yesNo(job.cancelRequested)}</dd>
        <dt>Log level</dt>
        <dd>${job.logLevel}</dd>
        <dt>Diagnostics path</dt>
        <dd><code>${job.diagnosticsPath}</code></dd>
        <dt>Back up drive manifests</dt>
        <dd>${yesNo(job.backupDriveManifest)}</dd>
        ${
          job.export
            ? html`<dt>Blobs to export</dt>
                <dd>
                  <ul class="plain">
                    ${(job.export.blobList?.blobPath ?? []).map((p) => html`<li><code>${p}</code></li>`)}
                    ${(job.export.blobList?.blobPathPrefix ?? []).map(
                      (p) => html`<li><code>${p}</code> (prefix)</li>`,
                    )}
                    ${
                      job.export.blobListBlobPath
                        ? html`<li>Blob list in <code>${job.export.blobListBlobPath}</code></li>`
                        : undefined
                    }
                  </ul>
                </dd>`
            : undefined
        }
        ${
          job.incompleteBlobListUri
            ? html`<dt>Blobs that did not fit</dt>
                <dd>
                  <a href="${jobUrl(job, "incomplete-blob-list")}" download>Incomplete blob list</a>
                  (<code class="wrap">${job.incompleteBlobListUri}</code>)
                </dd>`
            : undefined
        }
        <dt>Tags</dt>
        <dd data-testid="tags">
          ${
            tags.length === 0
              ? html`<span class="muted">None</span>`
              : html`<ul class="plain tags">
                  ${tags.map(([k, val]) => html`<li><code>${k}</code> = <code>${val}</code></li>`)}
                </ul>`
          }
        </dd>
      </dl>
    </section>
    <section aria-labelledby="shipping-heading">
      <h2 id="shipping-heading">Shipping</h2>
      <div class="cards">
        <div class="card">
          <h3>Ship your drives to</h3>
          ${addressLines(job.shippingInformation as Record<string, string | undefined>)}
        </div>
        <div class="card">
          <h3>Your package</h3>
          ${packageInfo(job.deliveryPackage)}
        </div>
        <div class="card">
          <h3>Return address</h3>
          ${addressLines(job.returnAddress as Record<string, string | undefined> | undefined)}
        </div>
        <div class="card">
          <h3>Return shipping</h3>
          ${
            job.returnShipping
              ? html`<dl class="compact">
                  <dt>Carrier</dt>
                  <dd>${job.returnShipping.carrierName}</dd>
                  <dt>Account number</dt>
                  <dd>${job.returnShipping.carrierAccountNumber}</dd>
                </dl>`
              : html`<p class="muted">Not given yet.</p>`
          }
        </div>
        <div class="card">
          <h3>Return package</h3>
          ${job.returnPackage ? packageInfo(job.returnPackage) : html`<p class="muted">Not shipped back yet.</p>`}
        </div>
      </div>
    </section>
    <section aria-labelledby="drives-heading">
      <h2 id="drives-heading">Drives</h2>
      ${
        job.driveList.length === 0
          ? html`<p class="muted">
              ${job.jobType === "Export" ? "The datacenter records the drives it writes." : "No drives."}
            </p>`
          : drivesTable(
              job.driveList,
              {
                heading: "Copy status",
                cell: (d) =>
                  html`<td data-label="Copy status" data-field="copyStatus">
                    ${d.copyStatus ?? "—"}
                  </td>`,
              },
              {
                heading: "Logs",
                cell: (d) =>
                  html`<td data-label="Logs">
                    ${
                      d.errorLogUri || d.verboseLogUri || d.manifestUri
                        ? html`<ul class="plain">
                            ${logLink(job, d, "error-log", "Error log")}
                            ${logLink(job, d, "verbose-log", "Verbose log")}
                            ${logLink(job, d, "manifest", "Manifest backup")}
                          </ul>`
                        : html`<span class="muted">None yet</span>`
                    }
                  </td>`,
              },
            )
      }
    </section>
    ${exportSection(v)}
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      ${historyTimeline(v.history, {
        testId: "history",
        when: (h) => html`${time(h.at, { seconds: true })} · ${actorWords(h.actor, "customer")}`,
        what: (h) =>
          html`<span class="event">${eventWords(h.event)}</span>${
              h.from && h.to && h.from !== h.to
                ? html`: ${badge(h.from)} → ${badge(h.to)}`
                : h.to && !h.from
                  ? html`: ${badge(h.to)}`
                  : undefined
            }`,
      })}
    </section>
  </div>`;
}

export function notFoundBody(key: {
  name: string;
  resourceGroup: string;
  subscriptionId: string;
}): Html {
  return html`<p>
      The job <strong>${key.name}</strong> does not exist in resource group
      <strong>${key.resourceGroup}</strong>, or it was deleted. Deleted jobs and their history are
      gone for good.
    </p>
    <p>
      <a href="${listUrl({ subscriptionId: key.subscriptionId, resourceGroup: key.resourceGroup })}"
        >See the jobs of resource group ${key.resourceGroup}</a
      >
    </p>`;
}

// ---------------------------------------------------------------------------------------
// The create wizard

export function wizardTypePage(scope: Required<Scope>): Html {
  return html`<h1>Create a job</h1>
    <p class="lead">Step 1 of 2: what kind of job? It will be created in ${scopeText(scope)}.</p>
    <ul class="choices">
      <li>
        <a class="choice" href="${newJobUrl(scope, "Import")}"
          ><strong>Import job</strong
          ><span
            >Ship drives to the datacenter; their data is copied into your storage account.</span
          ></a
        >
      </li>
      <li>
        <a class="choice" href="${newJobUrl(scope, "Export")}"
          ><strong>Export job</strong
          ><span
            >The datacenter copies blobs from your storage account onto drives and ships them to
            you.</span
          ></a
        >
      </li>
    </ul>`;
}

export interface WizardView {
  scope: Required<Scope>;
  jobType: JobType;
  values: WizardValues;
  locations: LocationInfo[];
  error?: FieldError;
}

function addressFields(prefix: "returnAddress", values: Form, error?: FieldError): Html {
  return html`${RETURN_ADDRESS_FIELDS.map(([f, label, autocomplete]) =>
    textField(`${prefix}-${f}`, {
      label,
      value: values[`${prefix}-${f}`],
      error,
      autocomplete: `shipping ${autocomplete}`,
      type: f === "email" ? "email" : f === "phone" ? "tel" : "text",
    }),
  )}`;
}

function returnShippingFields(values: Form, error?: FieldError): Html {
  return html`${RETURN_SHIPPING_FIELDS.map(([f, label]) =>
    textField(`returnShipping-${f}`, { label, value: values[`returnShipping-${f}`], error }),
  )}`;
}

export function wizardPage(v: WizardView): Html {
  const { values, error } = v;
  const rows = driveRows(values);
  const action = newJobUrl(v.scope, v.jobType);
  return html`<h1>Create ${v.jobType === "Import" ? "an import" : "an export"} job</h1>
    <p class="lead">
      Step 2 of 2: the job's details, in ${scopeText(v.scope)}.
      <a href="${newJobUrl(v.scope)}">Choose another job type</a>
    </p>
    ${errorSummary(error)}
    <form method="post" action="${action}" class="wizard" novalidate>
      <!-- Enter in a field submits the form's first button: make that "Create job", not "Add another drive". -->
      <button
        type="submit"
        name="action"
        value="create"
        class="visually-hidden"
        tabindex="-1"
        aria-hidden="true"
      >
        Create job
      </button>
      <input type="hidden" name="driveRows" value="${rows}" />
      <fieldset>
        <legend>1. Basics</legend>
        <div class="fields">
          ${textField("name", {
            label: "Job name",
            value: values.name,
            error,
            hint: "2 to 64 letters, digits and hyphens, starting with a letter.",
          })}
          ${selectField("location", {
            label: "Shipping location (Azure region)",
            value: values.location ?? "",
            error,
            options: [
              { value: "", label: "Choose a location" },
              ...v.locations.map((l) => ({ value: l.name, label: `${l.displayName} (${l.name})` })),
            ],
          })}
          ${textField("storageAccount", {
            label: "Storage account",
            value: values.storageAccount,
            error,
            wide: true,
            hint: `An account name (in resource group ${v.scope.resourceGroup}) or a full resource ID /subscriptions/…/providers/Microsoft.Storage/storageAccounts/<name>.`,
          })}
        </div>
      </fieldset>
      ${
        v.jobType === "Import"
          ? html`<fieldset>
              <legend>2. Drives</legend>
              <p class="hint">
                One row per drive (1 to 10), as printed by <code>drivebay drive prepare</code>.
                Empty rows are ignored.
              </p>
              <div class="prepared-json" data-testid="prepared-json">
                ${textArea("preparedJson", {
                  label: "Fill the drives from drive prepare's JSON (optional)",
                  hint: "Paste what 'drivebay drive prepare --output json' printed: one object per drive, several one after another, or an array. Drives already in a row are updated.",
                  value: values.preparedJson,
                  error,
                  rows: 4,
                })}
                <div class="field" data-js-only hidden>
                  <label for="f-preparedFile">Or choose the saved JSON file</label>
                  <input
                    id="f-preparedFile"
                    type="file"
                    accept=".json,application/json,text/plain"
                  />
                </div>
                <div class="buttons">
                  <button
                    type="submit"
                    name="action"
                    value="fill-drives"
                    class="button-secondary"
                    data-fill-drives
                  >
                    Fill the drives from the JSON
                  </button>
                </div>
              </div>
              ${Array.from(
                { length: rows },
                (_, i) =>
                  html`<fieldset class="drive-row">
                    <legend>Drive ${i + 1}</legend>
                    <div class="fields">
                      ${DRIVE_FIELDS.map(([f, label]) =>
                        textField(`drive-${i}-${f}`, {
                          label,
                          value: values[`drive-${i}-${f}`],
                          error,
                          placeholder: f === "manifestFile" ? "\\DriveManifest.xml" : undefined,
                        }),
                      )}
                    </div>
                  </fieldset>`,
              )}
              ${
                rows < 10
                  ? html`<div class="buttons">
                      <button
                        type="submit"
                        name="action"
                        value="add-drive"
                        class="button-secondary"
                      >
                        Add another drive
                      </button>
                    </div>`
                  : undefined
              }
            </fieldset>`
          : html`<fieldset>
              <legend>2. Blobs to export</legend>
              <p class="hint">
                Blob paths start with the container: <code>/container/path/to/blob</code>. Give
                paths and prefixes, or the path of a blob that lists them.
              </p>
              <div class="fields">
                ${textArea("blobPaths", {
                  label: "Blob paths (one per line)",
                  value: values.blobPaths,
                  error,
                  placeholder: "/docs/readme.txt",
                })}
                ${textArea("blobPathPrefixes", {
                  label: "Blob path prefixes (one per line)",
                  value: values.blobPathPrefixes,
                  error,
                  placeholder: "/photos/2026/",
                })}
                ${textField("blobListBlobPath", {
                  label: "Or: the path of a blob list blob",
                  value: values.blobListBlobPath,
                  error,
                  wide: true,
                })}
              </div>
            </fieldset>`
      }
      <fieldset>
        <legend>3. Return shipping (can be added later, needed before shipping)</legend>
        <div class="fields">
          ${addressFields("returnAddress", values, error)} ${returnShippingFields(values, error)}
        </div>
      </fieldset>
      <fieldset>
        <legend>4. Options</legend>
        <div class="fields">
          ${selectField("logLevel", {
            label: "Log level",
            value: values.logLevel ?? "Error",
            error,
            options: LOG_LEVELS.map((l) => ({ value: l, label: l })),
          })}
          ${textField("diagnosticsPath", {
            label: "Diagnostics path (optional)",
            value: values.diagnosticsPath,
            error,
            placeholder: "waimportexport",
          })}
          ${checkbox("backupDriveManifest", {
            label: "Back up the drive manifests to the storage account",
            checked: values.backupDriveManifest === "on",
          })}
          ${textArea("tags", {
            label: "Tags (optional, one name=value per line)",
            value: values.tags,
            error,
          })}
        </div>
      </fieldset>
      <div class="buttons">
        <button type="submit" name="action" value="create">Create job</button>
        <a href="${listUrl(v.scope)}">Cancel and go back</a>
      </div>
    </form>`;
}

// ---------------------------------------------------------------------------------------
// Mark as shipped, cancel, delete

export function shipValues(job: Job): Form {
  const values: Form = {};
  for (const [f] of DELIVERY_PACKAGE_FIELDS) {
    const v = job.deliveryPackage?.[f];
    if (v !== undefined) values[`deliveryPackage-${f}`] = String(v);
  }
  for (const [f] of RETURN_ADDRESS_FIELDS) {
    const v = job.returnAddress?.[f];
    if (v !== undefined) values[`returnAddress-${f}`] = v;
  }
  for (const [f] of RETURN_SHIPPING_FIELDS) {
    const v = job.returnShipping?.[f];
    if (v !== undefined) values[`returnShipping-${f}`] = v;
  }
  return values;
}

export function shipPage(job: Job, values: Form, error?: FieldError): Html {
  return html`<h1>Mark job ${job.name} as shipped</h1>
    <p class="lead">
      Tell the datacenter which package your drives are in. The return address and return shipping
      are needed too, if you have not given them yet.
    </p>
    ${errorSummary(error)}
    <form method="post" action="${jobUrl(job, "ship")}" novalidate>
      <fieldset>
        <legend>Your package</legend>
        <div class="fields">
          ${DELIVERY_PACKAGE_FIELDS.map(([f, label]) =>
            textField(`deliveryPackage-${f}`, {
              label,
              value: values[`deliveryPackage-${f}`],
              error,
              type: f === "shipDate" ? "date" : "text",
              inputmode: f === "driveCount" ? "numeric" : undefined,
            }),
          )}
        </div>
      </fieldset>
      <fieldset>
        <legend>Return address</legend>
        <div class="fields">${addressFields("returnAddress", values, error)}</div>
      </fieldset>
      <fieldset>
        <legend>Return shipping</legend>
        <div class="fields">${returnShippingFields(values, error)}</div>
      </fieldset>
      <div class="buttons">
        <button type="submit">Mark as shipped</button>
        <a href="${jobUrl(job)}">Back to the job</a>
      </div>
    </form>`;
}

export function cancelPage(job: Job): Html {
  return html`<h1>Cancel job ${job.name}?</h1>
    <div class="confirm" data-testid="cancel-explanation">
      <p><strong>Cancelling is best effort:</strong> the datacenter stops what it still can.</p>
      <p>The job is in the state ${badge(job.state)}. ${cancelEffect(job.state) ?? ""}</p>
      <p>A cancel cannot be taken back; the job stays cancelled for the rest of its life.</p>
    </div>
    <form method="post" action="${jobUrl(job, "cancel")}" class="buttons">
      <button type="submit" class="button-danger">Cancel the job</button>
      <a href="${jobUrl(job)}">Keep the job</a>
    </form>`;
}

export function deletePage(job: Job): Html {
  return html`<h1>Delete job ${job.name}?</h1>
    <div class="confirm">
      <p>
        The job is in the state ${badge(job.state)}. Deleting removes the job, its history and its
        shipping details from drivebay for good; its name can be used again. The data in your
        storage account is not touched.
      </p>
    </div>
    <form method="post" action="${jobUrl(job, "delete")}" class="buttons">
      <button type="submit" class="button-danger">Delete the job</button>
      <a href="${jobUrl(job)}">Keep the job</a>
    </form>`;
}

export function progressJson(job: Job): Record<string, unknown> {
  return {
    state: job.state,
    cancelRequested: job.cancelRequested,
    percentComplete: job.percentComplete,
    drives: job.driveList.map(driveProgressJson),
  };
}

export { tagLines };

/** Token auth: the customer signs in with an access token issued for this service. */
export function signinPage(next: string, error?: FieldError): Html {
  return html`<h1>Sign in</h1>
    <p class="lead">
      This service verifies access tokens. Paste one issued for it, for example with
      <code>az account get-access-token --resource &lt;this service's audience&gt;</code>, then
      choose a subscription it is granted.
    </p>
    ${errorSummary(error)}
    <form method="post" action="/portal/signin" class="narrow">
      <input type="hidden" name="next" value="${next}" />
      ${textArea("token", {
        label: "Access token",
        hint: "The token stays on the server for this session only; signing out forgets it.",
        error,
        required: true,
        rows: 6,
      })}
      <div class="buttons"><button type="submit">Sign in</button></div>
    </form>`;
}
