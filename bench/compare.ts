/**
 * What bench:import and bench:export share around their runs: a fresh embedded Azurite
 * with the container made, and the medians and ratios they print (runs during which other
 * processes used the CPUs are left out of the medians when quiet runs remain).
 */
import { join } from "node:path";
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { EmbeddedAzurite } from "../src/storage/azurite.ts";
import { fmt } from "./support.ts";

/** A run during which other processes used more CPU than this (seconds) is noisy. */
export const NOISY_CPU_S = 0.5;

export interface TimedRun {
  round: number;
  ms: number;
  /** CPU seconds other processes used during the run. */
  otherCpu: number;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const noisy = (r: TimedRun) => r.otherCpu > NOISY_CPU_S;

/** The quiet runs of `rs`, or all of them when none is quiet. */
export const quietOnes = <R extends TimedRun>(rs: R[]): R[] =>
  rs.some((r) => !noisy(r)) ? rs.filter((r) => !noisy(r)) : rs;

/**
 * The line comparing drivebay's runs with another tool's: the ratio of their median rates
 * over quiet runs (`rate`), each round's ratio (marked when noisy), and the ≥ 1.0 target.
 */
export function ratioLine(
  other: string,
  db: TimedRun[],
  ac: TimedRun[],
  rate: (rs: TimedRun[]) => number,
): string {
  const ratio = rate(quietOnes(db)) / rate(quietOnes(ac));
  const perRound = db
    .map((d) => {
      const a = ac.find((x) => x.round === d.round);
      return a ? `${fmt(a.ms / d.ms, 2)}${noisy(a) || noisy(d) ? " (noisy)" : ""}` : undefined;
    })
    .filter((x) => x !== undefined);
  return `  ratio drivebay / ${other} = ${fmt(ratio, 2)} (per round ${perRound.join(", ")})  (target ≥ 1.0: ${ratio >= 1 ? "met" : "MISSED"})`;
}

/**
 * A fresh embedded Azurite, in memory in its own process under `dir`, with `account` and
 * its `container` made; a container SAS (read, add, create, write, list) for 6 hours.
 */
export async function freshAzurite(dir: string, account: string, container: string) {
  const azurite = await EmbeddedAzurite.start({
    host: "127.0.0.1",
    port: 0,
    inMemory: true,
    location: join(dir, "azurite"),
    accountsFile: join(dir, "storage-accounts.json"),
  });
  const key = await azurite.ensureAccount(account);
  const credential = new StorageSharedKeyCredential(account, key);
  const cc = new BlobServiceClient(azurite.blobEndpoint(account), credential).getContainerClient(
    container,
  );
  await cc.create();
  const sas = generateBlobSASQueryParameters(
    {
      containerName: container,
      permissions: ContainerSASPermissions.parse("racwl"),
      expiresOn: new Date(Date.now() + 6 * 3600_000),
    },
    credential,
  ).toString();
  return { azurite, cc, sas, key };
}
