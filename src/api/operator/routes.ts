/**
 * The operator API (`/operator/v1/`): drivebay's datacenter surface, with its own key.
 * Errors use the same envelope and code catalogue as the ARM API.
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { parseDuration } from "../../domain/duration.ts";
import { DomainError } from "../../domain/errors.ts";
import { bearerOf } from "../../auth/access.ts";
import type { ClockService } from "../../service/clock-service.ts";
import type { StorageAccounts } from "../../storage/registry.ts";
import {
  OPERATOR_VIEWS,
  type DatacenterService,
  type OperatorView,
} from "../../service/datacenter-service.ts";
import { arr, check, int, obj, str } from "../arm/schema.ts";
import { jobKey, named } from "../routes/route.ts";
import { operatorJob } from "./views.ts";

export interface OperatorDeps {
  datacenter: DatacenterService;
  clock: ClockService;
  operatorKey: string;
  /** The storage account registry (SPEC §4.3); absent means no storage routes. */
  storage?: StorageAccounts;
  /**
   * The dock (`<data-dir>/dock`): its absolute path, whether this process reads it (it runs
   * the autopilot), and the id in its `.drivebay-dock` file. Absent: no `GET /dock`.
   */
  dock?: { path: string; local: boolean; id: string };
}

/** True when `token` is the operator key (constant time). */
export function isOperatorKey(operatorKey: string, token: string | undefined): boolean {
  // Lengths first, without copying the token: the ARM routes ask this of every customer's
  // bearer token, a JWT far longer than any key (the length alone was never compared in
  // constant time).
  if (!token || Buffer.byteLength(token) !== Buffer.byteLength(operatorKey)) return false;
  return timingSafeEqual(Buffer.from(token), Buffer.from(operatorKey));
}

export function bearerToken(req: FastifyRequest): string | undefined {
  return bearerOf(req.headers.authorization);
}

/** The operator API's request shapes (the operator pages check their forms with the same). */
export const receiveBody = obj(
  {
    carrierName: str({ maxLength: 256 }),
    trackingNumber: str({ maxLength: 256 }),
    driveIds: arr(str({ maxLength: 128 }), 100),
  },
  { required: ["trackingNumber", "driveIds"] },
);
const attachBody = obj(
  { path: str({ maxLength: 4096 }), capacityBytes: int(1) },
  { required: ["path"] },
);
const completeBody = obj(
  { outcome: str({ enum: ["Completed", "CompletedMoreInfo"] }), bytesSucceeded: int(0) },
  { required: ["outcome"] },
);
export const shipBackBody = obj(
  {
    carrierName: str({ maxLength: 256 }),
    trackingNumber: str({ maxLength: 256 }),
    shipDate: str({ maxLength: 64 }),
    driveCount: int(0, 10),
  },
  { required: ["carrierName", "trackingNumber"] },
);
export const reasonBody = obj({ reason: str({ maxLength: 2048 }) }, { required: ["reason"] });
const advanceBody = obj({ by: str({ maxLength: 64 }) }, { required: ["by"] });

const JOB = "/jobs/:subscriptionId/:resourceGroupName/:jobName";

function driveId(req: FastifyRequest): string {
  return (req.params as Record<string, string>).driveId!;
}

function body<T>(schema: Parameters<typeof check>[0], req: FastifyRequest): T {
  return check(schema, req.body ?? {}, "") as T;
}

export async function operatorRoutes(app: FastifyInstance, deps: OperatorDeps): Promise<void> {
  app.addHook("onRequest", (req, _reply, done) => {
    req.operationId =
      (req.routeOptions.config as { operationId?: string }).operationId ?? "Operator_Other";
    const token = bearerToken(req);
    if (!isOperatorKey(deps.operatorKey, token)) {
      return done(
        new DomainError(
          "AuthenticationFailed",
          token
            ? "The operator key is not valid for the operator API."
            : "The operator API needs the operator key: send 'Authorization: Bearer <operator key>' (see operator.key in the data directory).",
        ),
      );
    }
    done();
  });

  const { datacenter } = deps;
  const view = (job: Parameters<typeof operatorJob>[0]) => operatorJob(job);

  app.get("/jobs", named("Operator_ListJobs"), async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const name = (q.view ?? "all") as OperatorView;
    if (!Object.hasOwn(OPERATOR_VIEWS, name)) {
      throw new DomainError(
        "InvalidQueryParameterValue",
        `'view' must be one of ${Object.keys(OPERATOR_VIEWS).join(", ")}.`,
        {
          target: "view",
        },
      );
    }
    const after = q.after === undefined ? 0 : Number(q.after);
    const top = q.top === undefined ? 100 : Number(q.top);
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new DomainError(
        "InvalidQueryParameterValue",
        "'after' must be a non-negative integer from a previous page.",
        { target: "after" },
      );
    }
    if (!Number.isInteger(top) || top < 1 || top > 1000) {
      throw new DomainError(
        "InvalidQueryParameterValue",
        "'top' must be an integer from 1 to 1000.",
        { target: "top" },
      );
    }
    const rows = await datacenter.list(name, after, top + 1);
    const page = rows.slice(0, top);
    return {
      value: page.map((r) => view(r.job)),
      ...(rows.length > top ? { nextAfter: page[page.length - 1]!.seq } : {}),
    };
  });

  app.get(JOB, named("Operator_GetJob"), async (req) => {
    const { job, history } = await datacenter.show(jobKey(req));
    return operatorJob(job, history);
  });

  app.post("/packages/receive", named("Operator_ReceivePackage"), async (req) => {
    const b = body<{ carrierName?: string; trackingNumber: string; driveIds: string[] }>(
      receiveBody,
      req,
    );
    return view(await datacenter.receivePackage(b));
  });

  app.post(`${JOB}/drives/:driveId/attach`, named("Operator_AttachDrive"), async (req) => {
    const b = body<{ path: string; capacityBytes?: number }>(attachBody, req);
    return view(await datacenter.attachDrive(jobKey(req), driveId(req), b.path, b.capacityBytes));
  });

  app.post(`${JOB}/drives/:driveId/complete`, named("Operator_CompleteDrive"), async (req) => {
    const b = body<{ outcome: "Completed" | "CompletedMoreInfo"; bytesSucceeded?: number }>(
      completeBody,
      req,
    );
    return view(
      await datacenter.completeDrive(jobKey(req), driveId(req), b.outcome, b.bytesSucceeded),
    );
  });

  app.post(`${JOB}/transfer/start`, named("Operator_StartTransfer"), async (req) =>
    view(await datacenter.startTransfer(jobKey(req))),
  );
  app.post(`${JOB}/package`, named("Operator_Package"), async (req) =>
    view(await datacenter.package(jobKey(req))),
  );

  app.post(`${JOB}/ship-back`, named("Operator_ShipBack"), async (req) => {
    const b = body<{
      carrierName: string;
      trackingNumber: string;
      shipDate?: string;
      driveCount?: number;
    }>(shipBackBody, req);
    if (b.shipDate !== undefined && Number.isNaN(Date.parse(b.shipDate))) {
      throw new DomainError(
        "InvalidRequestContent",
        `'${b.shipDate}' is not a date; use e.g. 2026-12-01.`,
        {
          target: "shipDate",
        },
      );
    }
    return view(await datacenter.shipBack(jobKey(req), b));
  });

  app.post(`${JOB}/fault`, named("Operator_Fault"), async (req) =>
    view(await datacenter.fault(jobKey(req), body<{ reason: string }>(reasonBody, req).reason)),
  );
  app.post(`${JOB}/resolve`, named("Operator_Resolve"), async (req) =>
    view(await datacenter.resolve(jobKey(req), body<{ reason: string }>(reasonBody, req).reason)),
  );

  const { storage } = deps;
  if (storage) {
    app.get("/storage", named("Operator_ListStorageAccounts"), async () => ({
      value: storage.list().map((a) => ({
        name: a.name,
        blobEndpoint: a.blobEndpoint,
        ...(a.subscriptionId !== undefined ? { subscriptionId: a.subscriptionId } : {}),
        ...(a.resourceGroup !== undefined ? { resourceGroup: a.resourceGroup } : {}),
      })),
    }));
    // In the emulator profile this creates the account on first use, like a job naming it.
    app.get("/storage/:account", named("Operator_GetStorageAccount"), async (req) => {
      const a = await storage.resolve((req.params as { account: string }).account);
      return { name: a.name, blobEndpoint: a.blobEndpoint, connectionString: a.connectionString };
    });
  }

  const { dock } = deps;
  if (dock) app.get("/dock", named("Operator_GetDock"), async () => dock);

  app.get("/clock", named("Operator_GetClock"), async () => deps.clock.read());
  app.post("/clock/advance", named("Operator_AdvanceClock"), async (req) => {
    const b = body<{ by: string }>(advanceBody, req);
    const ms = parseDuration(b.by);
    if (ms === undefined) {
      throw new DomainError(
        "InvalidRequestContent",
        `'${b.by}' is not a duration; use ISO-8601 (P91D, PT12H) or 91d, 12h, 30m.`,
        {
          target: "by",
        },
      );
    }
    return deps.clock.advance(ms);
  });
}
