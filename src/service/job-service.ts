/**
 * Customer use cases of SPEC §1–§2: load → decide → persist, with compare-and-set writes.
 * A lost race reloads the job and decides again, so concurrent PATCH/PUT/DELETE on one job
 * never lose an update or resurrect a deleted job.
 */
import { DomainError } from "../domain/errors.ts";
import type { DecideContext, JobChanges } from "../domain/job/lifecycle.ts";
import {
  decide,
  historyOfCreation,
  initialDeadline,
  updatableFields,
} from "../domain/job/lifecycle.ts";
import { specifiedDrive } from "../domain/job/drive-lifecycle.ts";
import type {
  Actor,
  Drive,
  EncryptionKey,
  ExportSpec,
  HistoryEntry,
  Job,
  JobKey,
  JobState,
  JobType,
  LogLevel,
  PackageInformation,
  ReturnAddress,
  ReturnShipping,
} from "../domain/job/model.ts";
import {
  checkJobName,
  checkJobShape,
  checkResourceGroupName,
  checkSubscriptionId,
  checkTags,
} from "../domain/job/rules.ts";
import type { LocationCatalogue } from "../domain/locations.ts";
import type { StorageAccountRegistry } from "../domain/storage-accounts.ts";
import {
  applyEvent,
  applyToExisting,
  commit,
  LOST_RACE,
  notFound,
  retrying,
  type ApplyDeps,
} from "./apply.ts";
import { newJobUid } from "./job-uid.ts";
import type { JobScope } from "../store/ports.ts";

export { notFound };

/** A validated Jobs_Create body. */
export interface JobInput {
  location: string;
  tags?: Record<string, string>;
  storageAccountId: string;
  jobType?: JobType;
  returnAddress?: ReturnAddress;
  returnShipping?: ReturnShipping;
  deliveryPackage?: PackageInformation;
  diagnosticsPath?: string;
  logLevel?: LogLevel;
  backupDriveManifest?: boolean;
  driveList?: Omit<Drive, "state">[];
  export?: ExportSpec;
  encryptionKey?: EncryptionKey;
}

export interface Principal {
  id: string;
  type: string;
}

/** Who asks for a change: the principal systemData names, and the subscriptions they may use. */
export interface Requester {
  principal: Principal;
  /** "*" or lower-cased subscription ids (auth/access.ts's Caller is one). */
  subscriptions: "*" | ReadonlySet<string>;
}

function linkedAccess(by: Requester) {
  return {
    principalId: by.principal.id,
    allows: (subscriptionId: string) =>
      by.subscriptions === "*" || by.subscriptions.has(subscriptionId.toLowerCase()),
  };
}

function jobScope(key: JobKey): string {
  return `/subscriptions/${key.subscriptionId}/resourceGroups/${key.resourceGroup}/providers/Microsoft.ImportExport/jobs/${key.name}`;
}

export interface JobServiceDeps extends ApplyDeps {
  locations: LocationCatalogue;
  storageAccounts: StorageAccountRegistry;
}

export interface ListRequest {
  subscriptionId: string;
  resourceGroup?: string;
  state?: JobState;
  jobType?: JobType;
  afterSeq?: number;
  /** Newest first (the portal's default); ARM lists oldest first. */
  newestFirst?: boolean;
  top: number;
}

export function checkKey(key: JobKey): void {
  checkSubscriptionId(key.subscriptionId);
  checkResourceGroupName(key.resourceGroup);
  checkJobName(key.name);
}

export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  private ctx(actor: Actor, principal?: Principal): DecideContext {
    return { now: this.deps.clock.now(), actor, timers: this.deps.timers, principal };
  }

  /** Turns validated request input into a complete job in Creating. */
  private buildJob(key: JobKey, input: JobInput, ctx: DecideContext, by: Requester): Job {
    const principal = by.principal;
    const location = this.deps.locations.find(input.location);
    if (!location) {
      throw new DomainError(
        "LocationNotAvailableForResourceType",
        `The location '${input.location}' is not available for resource type 'Microsoft.ImportExport/jobs'. ` +
          `Use Locations_List (GET /providers/Microsoft.ImportExport/locations) to see the available locations.`,
        { target: "location" },
      );
    }
    this.deps.storageAccounts.check(input.storageAccountId, linkedAccess(by), jobScope(key));
    const jobType = input.jobType ?? "Import";
    checkJobShape(jobType, input.driveList, input.export);
    checkTags(input.tags ?? {});
    const now = ctx.now.toISOString();
    const job: Job = {
      uid: newJobUid(ctx.now),
      subscriptionId: key.subscriptionId,
      resourceGroup: key.resourceGroup,
      name: key.name,
      location: location.name,
      tags: input.tags ?? {},
      jobType,
      storageAccountId: input.storageAccountId,
      shippingInformation: this.deps.locations.shippingInformationFor(location),
      diagnosticsPath: input.diagnosticsPath || "waimportexport",
      logLevel: input.logLevel ?? "Error",
      backupDriveManifest: input.backupDriveManifest ?? false,
      state: "Creating",
      cancelRequested: false,
      driveList: (input.driveList ?? []).map(specifiedDrive),
      encryptionKey: input.encryptionKey ?? { kekType: "MicrosoftManaged" },
      identity: { type: "None" },
      systemData: {
        createdBy: principal.id,
        createdByType: principal.type,
        createdAt: now,
        lastModifiedBy: principal.id,
        lastModifiedByType: principal.type,
        lastModifiedAt: now,
      },
      stateEnteredAt: now,
      lastCustomerUpdateAt: now,
      version: 1,
    };
    for (const f of ["returnAddress", "returnShipping", "deliveryPackage", "export"] as const) {
      if (input[f] !== undefined) (job as unknown as Record<string, unknown>)[f] = input[f];
    }
    return initialDeadline(job, this.deps.timers);
  }

  /** Jobs_Create: 201 for a new job, 200 for a full replace of a job still in Creating. */
  async createOrReplace(
    key: JobKey,
    input: JobInput,
    by: Requester,
  ): Promise<{ job: Job; created: boolean }> {
    checkKey(key);
    return retrying(key, async () => {
      const ctx = this.ctx("customer", by.principal);
      // Most creates are of new names: insert first (one write, no read before it); the
      // insert refuses a taken name without writing anything (no seq drawn, no commit to
      // the disk), and then the job is read and replaced.
      const job = this.buildJob(key, input, ctx, by);
      if (await this.deps.store.insert(job, [historyOfCreation(ctx)])) {
        return { job, created: true };
      }
      const existing = await this.deps.store.get(key);
      // Deleted since the insert was refused: try again.
      if (!existing) return LOST_RACE;
      const candidate = this.buildJob(
        {
          subscriptionId: existing.subscriptionId,
          resourceGroup: existing.resourceGroup,
          name: existing.name,
        },
        input,
        ctx,
        by,
      );
      if (candidate.location !== existing.location) {
        throw new DomainError(
          "InvalidRequestContent",
          `The location of job '${existing.name}' is '${existing.location}' and cannot be changed to '${candidate.location}'. Create a new job instead.`,
          { target: "location" },
        );
      }
      const decision = decide(
        existing,
        { type: "replace", replacement: { ...candidate, systemData: existing.systemData } },
        ctx,
      );
      if (!decision.changed) return { job: existing, created: false };
      if (!(await commit(this.deps, existing, decision))) return LOST_RACE;
      return { job: { ...decision.job, version: existing.version + 1 }, created: false };
    });
  }

  /**
   * A create that never replaces (the portal's wizard): the new job, or undefined when the
   * name is taken, also by a create that won a race with this one.
   */
  async createNew(key: JobKey, input: JobInput, by: Requester): Promise<Job | undefined> {
    checkKey(key);
    const ctx = this.ctx("customer", by.principal);
    const job = this.buildJob(key, input, ctx, by);
    return (await this.deps.store.insert(job, [historyOfCreation(ctx)])) ? job : undefined;
  }

  async get(key: JobKey): Promise<Job> {
    checkKey(key);
    const job = await this.deps.store.get(key);
    if (!job) throw notFound(key);
    return job;
  }

  /** Jobs_Update. `tags`, when present, replace the whole tag set. */
  async update(
    key: JobKey,
    tags: Record<string, string> | undefined,
    changes: JobChanges,
    principal: Principal,
  ): Promise<Job> {
    checkKey(key);
    if (tags !== undefined) checkTags(tags);
    return applyToExisting(
      this.deps,
      key,
      (job) => {
        const all: JobChanges = { ...changes, ...(tags !== undefined ? { tags } : {}) };
        if (all.driveList !== undefined) {
          if (job.jobType === "Import") {
            // A new drive list is checked like a create's, where it may change at all.
            if (updatableFields(job).includes("driveList"))
              checkJobShape("Import", all.driveList, undefined);
          } else {
            all.exportDriveKeys = exportKeys(job, all.driveList);
            delete all.driveList;
          }
        }
        return { type: "update", changes: all };
      },
      "customer",
      principal,
    );
  }

  /** Jobs_Delete: "deleted", or "absent" when there was no such job (ARM answers 204). */
  async delete(key: JobKey, principal: Principal): Promise<"deleted" | "absent"> {
    checkKey(key);
    const r = await applyEvent(this.deps, key, () => ({ type: "delete" }), "customer", principal);
    return r.kind === "absent" ? "absent" : "deleted";
  }

  async list(req: ListRequest): Promise<{ jobs: Job[]; lastSeq?: number }> {
    checkSubscriptionId(req.subscriptionId);
    if (req.resourceGroup !== undefined) checkResourceGroupName(req.resourceGroup);
    const rows = await this.deps.store.list({
      subscriptionId: req.subscriptionId,
      resourceGroup: req.resourceGroup,
      state: req.state,
      jobType: req.jobType,
      afterSeq: req.afterSeq,
      newestFirst: req.newestFirst,
      limit: req.top + 1,
    });
    const page = rows.slice(0, req.top);
    const more = rows.length > req.top;
    return { jobs: page.map((r) => r.job), lastSeq: more ? page[page.length - 1]!.seq : undefined };
  }

  /**
   * The subscription/resource group pairs that hold jobs (the portal's scope page): all of
   * them, or only `subscriptionIds` (a token's grants; an empty list gives none).
   */
  async scopes(subscriptionIds: readonly string[] | undefined, limit: number): Promise<JobScope[]> {
    return this.deps.store.jobScopes({ subscriptionIds, limit });
  }

  async bitLockerKeys(key: JobKey): Promise<{ driveId: string; bitLockerKey: string }[]> {
    const job = await this.get(key);
    return job.driveList
      .filter((d) => d.bitLockerKey !== undefined)
      .map((d) => ({ driveId: d.driveId, bitLockerKey: d.bitLockerKey! }));
  }

  async history(key: JobKey): Promise<HistoryEntry[]> {
    const job = await this.get(key);
    return this.deps.store.history(job.uid);
  }
}

/** Export jobs: a PATCH driveList may only set BitLocker keys of drives the datacenter recorded. */
function exportKeys(
  job: Job,
  drives: NonNullable<JobChanges["driveList"]>,
): { driveId: string; bitLockerKey: string }[] {
  return drives.map((d, i) => {
    const known = job.driveList.find((x) => x.driveId.toLowerCase() === d.driveId?.toLowerCase());
    if (!known) {
      throw new DomainError(
        "InvalidDriveList",
        `Drive '${d.driveId}' is not a drive of export job '${job.name}'. Only the BitLocker keys of the job's drives can be changed.`,
        { target: `properties.driveList[${i}].driveId` },
      );
    }
    if (!d.bitLockerKey) {
      throw new DomainError(
        "MissingRequiredProperty",
        `'properties.driveList[${i}].bitLockerKey' is required.`,
        {
          target: `properties.driveList[${i}].bitLockerKey`,
        },
      );
    }
    return { driveId: known.driveId, bitLockerKey: d.bitLockerKey };
  });
}
