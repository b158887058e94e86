/**
 * One run of the export copier over a drive folder, outside the runner: the e2e tests of
 * the copier's hashing and re-checks call it again with the records of earlier runs, as a
 * resumed drive would. Asserts that the run finished `Completed`; returns the records put.
 * `openForWrite`: the copier's open of the files it writes (the O_DIRECT fallback's tests).
 */
import assert from "node:assert/strict";
import type { BlobServiceClient } from "@azure/storage-blob";
import { SystemClock } from "../../../src/domain/clock.ts";
import { BufferPool } from "../../../src/transfer/buffer-pool.ts";
import { DriveProgress, type CopyRecord, type DriveCopy } from "../../../src/transfer/copier.ts";
import { ExportCopier, type OpenForWrite } from "../../../src/transfer/export/export-copier.ts";
import { RANGE_SIZE } from "../../../src/transfer/manifest-types.ts";
import type { sampleJob } from "../../support/job-factory.ts";

export async function exportOnce(
  service: BlobServiceClient,
  job: ReturnType<typeof sampleJob>,
  plans: Map<string, string>,
  records: Map<string, CopyRecord>,
  { openForWrite }: { openForWrite?: OpenForWrite } = {},
): Promise<string[]> {
  const puts: string[] = [];
  const dc: DriveCopy = {
    job,
    drive: job.driveList[0]!,
    storage: {
      containerClient: async (_account, container) => service.getContainerClient(container),
      serviceClient: async () => service,
    },
    records: {
      earlier: new Map(records),
      put: async (r) => {
        records.set(r.blobKey, r);
        puts.push(`${r.blobKey}:${r.status}`);
      },
    },
    startedAt: new Date(),
    resumed: records.size > 0,
    progress: new DriveProgress(),
    boundary: async () => "copy",
    buffers: new BufferPool(2, RANGE_SIZE),
    concurrency: 2,
    wallClock: new SystemClock(),
  };
  const copier = new ExportCopier(
    {
      setSettingIfAbsent: async (name, value) => {
        if (!plans.has(name)) plans.set(name, value);
        return plans.get(name)!;
      },
    },
    openForWrite,
  );
  const result = await copier.copy(dc);
  assert.equal(result.kind, "finished");
  assert.ok(
    result.kind === "finished" && result.status === "Completed",
    JSON.stringify(result).slice(0, 2000),
  );
  return puts;
}
