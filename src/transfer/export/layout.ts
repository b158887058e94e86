/**
 * Laying blobs onto export drives (SPEC §4.5, reference/domain.md §4.2): in listing order,
 * each blob goes onto the drive being filled if it fits, else onto the next drive; a blob
 * never goes back to an earlier drive, so drive 1 holds the list's first blobs. What counts
 * against a drive's capacity is what the file system spends: every file (the blob's, its
 * `.metadata` and `.properties`) rounded up to whole clusters, and the manifest at the root
 * (its entries' exact size, page blobs counted as if every page were written). A blob larger
 * than an empty drive, and everything once the drives are full, goes to the incomplete list.
 *
 * The same blobs and drives always give the same plan (the copier re-plans after a restart).
 */
import type { ExportBlob } from "./blob-list.ts";
import {
  MANIFEST_TAIL,
  exportMetadataXml,
  exportPropertiesXml,
  manifestEntryBytes,
  manifestHead,
  manifestName,
} from "./drive-files.ts";
import { DrivePaths, manifestFilePath } from "./ntfs-names.ts";

/** NTFS's default cluster size for the drive sizes Import/Export takes. */
export const DEFAULT_CLUSTER_BYTES = 4096;

export interface PlannedBlob {
  blob: ExportBlob;
  /** The file's path segments on the drive (container first). */
  segments: string[];
  /** The manifest's FilePath (`\container\name`). */
  filePath: string;
  /** What the blob costs on the drive: its file and side files in clusters, and its manifest entry. */
  bytes: number;
}

export interface PlannedDrive {
  driveId: string;
  capacityBytes: number;
  blobs: PlannedBlob[];
  /** The blobs' bytes (their lengths). */
  dataBytes: number;
  /** Everything the drive spends: files in clusters, side files, the manifest. */
  usedBytes: number;
}

export interface LayoutPlan {
  drives: PlannedDrive[];
  /** Blobs that fit on no drive, in listing order. */
  incomplete: ExportBlob[];
}

export type LayoutTarget =
  /** The drives that arrived (a job): at most these. */
  | { drives: readonly { driveId: string; capacityBytes: number }[] }
  /** Drives of one size, as many as needed (PreviewExport). */
  | { driveSize: number };

const clusters = (bytes: number, cluster: number) => Math.ceil(bytes / cluster) * cluster;

/** A blob's `.metadata` and `.properties` files, when the caller has made them already. */
export interface SideFiles {
  metadataXml: string;
  propertiesXml: string;
}

/** What a blob's file and its side files spend on the drive, in whole clusters. */
function fileBytes(blob: ExportBlob, cluster: number, side?: SideFiles): number {
  return (
    clusters(blob.length, cluster) +
    clusters(Buffer.byteLength(side?.metadataXml ?? exportMetadataXml(blob)), cluster) +
    clusters(Buffer.byteLength(side?.propertiesXml ?? exportPropertiesXml(blob)), cluster)
  );
}

/**
 * What a blob costs a drive, as the layout counts it: its files in clusters and its
 * manifest entry. The copier compares it with the planned cost when the blob it reads has
 * grown since the layout. `side`: the blob's side files, if made already (they are not
 * made again).
 */
export function blobFootprint(
  blob: ExportBlob,
  filePath: string,
  cluster = DEFAULT_CLUSTER_BYTES,
  side?: SideFiles,
): number {
  return fileBytes(blob, cluster, side) + manifestEntryBytes(blob, filePath);
}

class DriveFill {
  readonly paths: DrivePaths;
  readonly drive: PlannedDrive;
  private fileBytes = 0;
  private manifestBytes: number;

  constructor(
    driveId: string,
    capacityBytes: number,
    private readonly cluster: number,
  ) {
    this.paths = new DrivePaths([manifestName(driveId)]);
    this.drive = { driveId, capacityBytes, blobs: [], dataBytes: 0, usedBytes: 0 };
    this.manifestBytes = Buffer.byteLength(manifestHead(driveId) + MANIFEST_TAIL);
    this.drive.usedBytes = this.used(0, 0);
  }

  private used(files: number, manifest: number): number {
    return this.fileBytes + files + clusters(this.manifestBytes + manifest, this.cluster);
  }

  /** Places the blob if it fits; false when it does not. */
  tryPlace(blob: ExportBlob): boolean {
    const segments = this.paths.propose(blob.container, blob.name, blob.snapshot);
    const filePath = manifestFilePath(segments);
    const files = fileBytes(blob, this.cluster);
    const entry = manifestEntryBytes(blob, filePath);
    const after = this.used(files, entry);
    if (after > this.drive.capacityBytes) return false;
    this.paths.claim(segments);
    this.fileBytes += files;
    this.manifestBytes += entry;
    this.drive.blobs.push({ blob, segments, filePath, bytes: files + entry });
    this.drive.dataBytes += blob.length;
    this.drive.usedBytes = after;
    return true;
  }

  /** Whether the blob would fit on this drive if it were empty. */
  static fitsEmpty(blob: ExportBlob, capacityBytes: number, cluster: number): boolean {
    const probe = new DriveFill("probe", capacityBytes, cluster);
    return probe.tryPlace(blob);
  }
}

/** Lays `blobs` (in listing order) onto the target drives. */
export function planLayout(
  blobs: readonly ExportBlob[],
  target: LayoutTarget,
  options: { clusterBytes?: number } = {},
): LayoutPlan {
  const cluster = options.clusterBytes ?? DEFAULT_CLUSTER_BYTES;
  const given = "drives" in target ? target.drives : undefined;
  const driveSize = "driveSize" in target ? target.driveSize : 0;
  const fills: DriveFill[] = [];
  const open = (i: number): DriveFill | undefined => {
    if (fills[i]) return fills[i];
    if (given) {
      const d = given[i];
      if (!d) return undefined;
      return (fills[i] = new DriveFill(d.driveId, d.capacityBytes, cluster));
    }
    return (fills[i] = new DriveFill(`drive-${i + 1}`, driveSize, cluster));
  };
  const incomplete: ExportBlob[] = [];
  let current = 0;
  for (const blob of blobs) {
    let placed = false;
    for (let i = current; ; i++) {
      const fill = open(i);
      if (!fill) break;
      if (fill.tryPlace(blob)) {
        current = i;
        placed = true;
        break;
      }
      // Too large for an empty drive of this size: it goes to the incomplete list and
      // does not close the drive being filled. (Given drives are each tried in turn.)
      if (!given && !DriveFill.fitsEmpty(blob, driveSize, cluster)) break;
    }
    if (!placed) incomplete.push(blob);
  }
  // A given drive that got nothing still gets its (empty) manifest.
  if (given) given.forEach((_, i) => open(i));
  const drives = fills.filter(Boolean).map((f) => f.drive);
  return { drives, incomplete };
}
