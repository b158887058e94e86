/**
 * The Azure Import/Export drive manifest (reference/domain.md §3.6), as drivebay reads
 * and writes it. One manifest per drive, at the drive's `manifestFile`.
 *
 * ```xml
 * <DriveManifest Version="2014-11-01">
 *   <Drive>
 *     <DriveId>WD-WCC4N1234567</DriveId>
 *     <ClientCreator>drivebay</ClientCreator>
 *     <BlobList Id="session#1-0">
 *       <MetadataPath Hash="…">\session#1\meta.xml</MetadataPath>        (optional, list default)
 *       <PropertiesPath Hash="…">\session#1\props.xml</PropertiesPath>  (optional, list default)
 *       <Blob>
 *         <BlobPath>photos/2026/a.jpg</BlobPath>
 *         <FilePath>\session#1\photos\a.jpg</FilePath>
 *         <Length>5242880</Length>
 *         <ImportDisposition>rename</ImportDisposition>
 *         <BlockList>
 *           <Block Offset="0" Length="4194304" Id="…" Hash="…"/>
 *           <Block Offset="4194304" Length="1048576" Id="…" Hash="…"/>
 *         </BlockList>
 *       </Blob>
 *       <Blob> … <PageRangeList><PageRange Offset="0" Length="512" Hash="…"/></PageRangeList> … </Blob>
 *     </BlobList>
 *   </Drive>
 * </DriveManifest>
 * ```
 * Hashes are Base16 (upper-case hex) MD5s. File paths are relative to the drive's root,
 * written with `\` as on the Windows tool; readers accept `/` too.
 */
export type ImportDisposition = "rename" | "no-overwrite" | "overwrite";

export interface ManifestRange {
  offset: number;
  length: number;
  /** Base16 MD5 of the range's bytes. */
  hash: string;
  /** Block id (Base64), block blobs only. */
  id?: string;
}

export interface HashedPath {
  path: string;
  /** Base16 MD5 of the file. */
  hash: string;
}

export interface ManifestBlob {
  /** Container and blob name: `container/dir/name.ext` (`$root/name` for the root container). */
  blobPath: string;
  /** The file on the drive, relative to the drive root. */
  filePath: string;
  length: number;
  disposition: ImportDisposition;
  blobType: "BlockBlob" | "PageBlob";
  /** BlockList (block blobs, contiguous, covering the file) or PageRangeList (page blobs). */
  ranges: ManifestRange[];
  /** Per-blob overrides of the list's metadata/properties files. */
  metadata?: HashedPath;
  properties?: HashedPath;
}

export interface ManifestBlobList {
  id?: string;
  metadata?: HashedPath;
  properties?: HashedPath;
  blobs: ManifestBlob[];
}

export interface DriveManifest {
  version: string;
  driveId: string;
  blobLists: ManifestBlobList[];
}

/** Blob properties settable on import (reference/domain.md §3.7). */
export interface BlobPropertiesFile {
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  cacheControl?: string;
  /** Base64 Content-MD5 as the properties file gives it (stored as the blob's Content-MD5). */
  contentMD5?: string;
}

/** The size of one block or page range written by the preparation tool (≤ 4 MiB). */
export const RANGE_SIZE = 4 * 1024 * 1024;
