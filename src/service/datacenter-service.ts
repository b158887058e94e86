/**
 * The datacenter's use cases (SPEC §3): what an operator (or a datacenter integration)
 * does with packages and drives. Every action is a lifecycle event through the same table
 * as the customer's, so an impossible move is refused with the table's error.
 */
import { realpath, stat, statfs } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { DomainError } from "../domain/errors.ts";
import { generateBitLockerKey } from "../domain/export/bitlocker.ts";
import { check, DATACENTER_VIEWS, hasEnded, type JobEvent } from "../domain/job/lifecycle.ts";
import { outcomeOfEndState } from "../domain/job/drive-lifecycle.ts";
import type { HistoryEntry, Job, JobKey, PackageInformation } from "../domain/job/model.ts";
import type { ListedJob } from "../store/ports.ts";
import { applyToExisting, notFound, type ApplyDeps } from "./apply.ts";
import { checkKey } from "./job-service.ts";

/** The operator's lists, as the lifecycle defines them. */
export const OPERATOR_VIEWS = DATACENTER_VIEWS;
export type OperatorView = keyof typeof OPERATOR_VIEWS;

export interface ReceiveRequest {
  carrierName?: string;
  trackingNumber: string;
  driveIds: string[];
}

export class DatacenterService {
  /**
   * `autoTransfer`: a transfer runner runs, so attaching a received drive of a job that was
   * not cancelled starts its copy (the job goes Transferring); the engine hears of it
   * through the decision's effects.
   */
  constructor(
    private readonly deps: ApplyDeps & {
      autoTransfer?: boolean;
      /** An export copier runs too, so attaching an export drive starts writing onto it. */
      autoExportTransfer?: boolean;
    },
  ) {}

  /** Whether attaching a drive of `job` starts its copy. */
  private copiesOnAttach(job: Job): boolean {
    return job.jobType === "Export"
      ? this.deps.autoExportTransfer === true
      : this.deps.autoTransfer === true;
  }

  private apply(key: JobKey, eventFor: (job: Job) => JobEvent): Promise<Job> {
    checkKey(key);
    return applyToExisting(this.deps, key, eventFor, "operator");
  }

  async list(view: OperatorView, afterSeq: number, limit: number): Promise<ListedJob[]> {
    return this.deps.store.listByStates(OPERATOR_VIEWS[view], afterSeq, limit);
  }

  async show(key: JobKey): Promise<{ job: Job; history: HistoryEntry[] }> {
    checkKey(key);
    const job = await this.deps.store.get(key);
    if (!job) throw notFound(key);
    return { job, history: await this.deps.store.history(job.uid) };
  }

  /**
   * A package arrives: find the job waiting for it by tracking number, refuse drives that
   * belong to another job, then let the lifecycle receive it.
   */
  async receivePackage(req: ReceiveRequest): Promise<Job> {
    const candidates = (await this.deps.store.findByTrackingNumber(req.trackingNumber)).filter(
      (j) => check(j, "receivePackage") === undefined,
    );
    if (candidates.length === 0) {
      throw new DomainError(
        "PackageNotFound",
        `No job is waiting for a package with tracking number '${req.trackingNumber}'. ` +
          `Check the number against the inbound jobs (drivebay operator inbound).`,
        { target: "trackingNumber" },
      );
    }
    if (candidates.length > 1) {
      throw new DomainError(
        "AmbiguousTrackingNumber",
        `The tracking number '${req.trackingNumber}' is on ${candidates.length} jobs (${candidates
          .map((j) => `${j.resourceGroup}/${j.name}`)
          .join(
            ", ",
          )}); receive the package for one job through its drive ids after checking the label.`,
        { target: "trackingNumber" },
      );
    }
    const target = candidates[0]!;
    const carrier = target.deliveryPackage?.carrierName;
    if (req.carrierName && carrier && req.carrierName.toLowerCase() !== carrier.toLowerCase()) {
      throw new DomainError(
        "PackageNotFound",
        `The package '${req.trackingNumber}' was announced with carrier '${carrier}', not '${req.carrierName}'.`,
        { target: "carrierName" },
      );
    }
    const own = new Set(target.driveList.map((d) => d.driveId.toLowerCase()));
    for (const driveId of req.driveIds) {
      if (own.has(driveId.toLowerCase())) continue;
      // Drive serials are reused once a job has ended; only live jobs own a drive.
      const owners = (await this.deps.store.findByDriveId(driveId)).filter(
        (j) => j.uid !== target.uid && !hasEnded(j),
      );
      if (owners.length > 0) {
        const o = owners[0]!;
        throw new DomainError(
          "DriveBelongsToAnotherJob",
          `Drive '${driveId}' belongs to job '${o.resourceGroup}/${o.name}', not to '${target.resourceGroup}/${target.name}'. ` +
            `Receive it with that job's package.`,
          { target: "driveIds" },
        );
      }
    }
    // Export drives are the datacenter's to record: each gets a new BitLocker key.
    const exportDrives =
      target.jobType === "Export"
        ? req.driveIds.map((driveId) => ({ driveId, bitLockerKey: generateBitLockerKey() }))
        : undefined;
    return this.apply(target, () => ({
      type: "receivePackage",
      trackingNumber: req.trackingNumber,
      driveIds: req.driveIds,
      ...(exportDrives ? { exportDrives } : {}),
    }));
  }

  /**
   * Attach a received drive's contents: an existing directory on the datacenter machine.
   * An export drive's capacity is `capacityBytes`, else the free space of that folder.
   */
  async attachDrive(
    key: JobKey,
    driveId: string,
    path: string,
    capacityBytes?: number,
  ): Promise<Job> {
    checkKey(key);
    const bad = (why: string) =>
      new DomainError("InvalidDrivePath", `Cannot attach '${path}': ${why}`, { target: "path" });
    if (!isAbsolute(path)) throw bad("give an absolute path to the mounted drive or its folder.");
    const info = await stat(path).catch(() => undefined);
    if (!info) throw bad("it does not exist.");
    if (!info.isDirectory()) throw bad("it is not a directory.");
    const resolved = await realpath(path);
    const free = capacityBytes === undefined ? await freeBytes(resolved) : undefined;
    return this.apply(key, (job) => {
      if (job.jobType !== "Export" && capacityBytes !== undefined) {
        throw new DomainError(
          "InvalidRequestContent",
          `'capacityBytes' is for export drives; job '${job.name}' is an import job. Attach the drive without it.`,
          { target: "capacityBytes" },
        );
      }
      const capacity = job.jobType === "Export" ? (capacityBytes ?? free) : undefined;
      return {
        type: "attachDrive",
        driveId,
        path: resolved,
        startCopy: this.copiesOnAttach(job),
        ...(capacity !== undefined ? { capacityBytes: capacity } : {}),
      };
    });
  }

  startTransfer(key: JobKey): Promise<Job> {
    return this.apply(key, () => ({ type: "startTransfer" }));
  }

  /**
   * An operator ends a drive's copy by naming the drive's end state: `CompletedMoreInfo` is
   * "completed with errors" (the operator API's and the pages' meaning), an error of the job.
   */
  completeDrive(
    key: JobKey,
    driveId: string,
    state: "Completed" | "CompletedMoreInfo",
    bytesSucceeded?: number,
  ): Promise<Job> {
    const outcome = outcomeOfEndState(state);
    return this.apply(key, () => ({ type: "completeDrive", driveId, outcome, bytesSucceeded }));
  }

  package(key: JobKey): Promise<Job> {
    return this.apply(key, () => ({ type: "package" }));
  }

  shipBack(key: JobKey, returnPackage: PackageInformation): Promise<Job> {
    return this.apply(key, () => ({ type: "shipBack", returnPackage }));
  }

  fault(key: JobKey, reason: string): Promise<Job> {
    return this.apply(key, () => ({ type: "fault", reason }));
  }

  resolve(key: JobKey, reason: string): Promise<Job> {
    return this.apply(key, () => ({ type: "resolve", reason }));
  }
}

/** The bytes a non-privileged writer can still put in the folder's file system. */
async function freeBytes(path: string): Promise<number | undefined> {
  const fs = await statfs(path).catch(() => undefined);
  return fs ? fs.bavail * fs.bsize : undefined;
}
