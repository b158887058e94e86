/**
 * `drivebay storage …`: where imported data lands and how to read it (SPEC §4.3), through
 * the operator API (`/operator/v1/storage`) and its key. `show` prints a connection string
 * for the Azure SDKs, Azure Storage Explorer or `az storage --connection-string`.
 */
import { createWriteStream, existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Command } from "commander";
import { accountService, blobFailure, hexOf, isNotFound, splitBlobPath } from "./blobs.ts";
import { CliFailure } from "./client.ts";
import { operatorCommand } from "./operator.ts";
import { processIo, table, type Io } from "./output.ts";
import { humanBytes } from "./units.ts";

interface StorageAccount {
  name: string;
  blobEndpoint: string;
  subscriptionId?: string;
  resourceGroup?: string;
  connectionString?: string;
}

export function registerStorageCommands(program: Command, io: Io): void {
  const storage = program
    .command("storage")
    .description("storage accounts: where imported data lands and how to read it")
    .addHelpText(
      "after",
      `
The storage commands use the operator API and its key (see drivebay operator --help).
In the emulator profile every account a job names is served by the embedded Azurite
(created on first use); \`storage show <account>\` also creates it.

Example: read an account's blobs with the Azure SDK for JavaScript:
  const cs = JSON.parse(execSync("drivebay storage show mydata -o json")).connectionString;
  const client = BlobServiceClient.fromConnectionString(cs);`,
    );

  operatorCommand(
    storage,
    io,
    { name: "list", description: "list the storage accounts and their Blob endpoints" },
    async ({ send, print }) => {
      const { value } = (await send("storage")) as { value: StorageAccount[] };
      print(value, () =>
        value.length === 0
          ? "no storage accounts yet (in the emulator profile they appear on first use)\n"
          : table(
              ["NAME", "SUBSCRIPTION", "RESOURCE GROUP", "BLOB ENDPOINT"],
              value.map((a) => [
                a.name,
                // No owner: any subscription's jobs may name it (development auth).
                a.subscriptionId ?? "(any)",
                a.resourceGroup ?? "(any)",
                a.blobEndpoint,
              ]),
            ),
      );
    },
  );

  operatorCommand(
    storage,
    io,
    {
      name: "show",
      description: "show an account's Blob endpoint and connection string (it holds the key)",
    },
    async ({ cmd, send, print }) => {
      const name = cmd.processedArgs[0] as string;
      const account = (await send(`storage/${encodeURIComponent(name)}`)) as StorageAccount;
      print(account, () =>
        table(
          ["FIELD", "VALUE"],
          [
            ["name", account.name],
            ["blob endpoint", account.blobEndpoint],
            ["connection string", account.connectionString ?? "-"],
          ],
        ),
      );
    },
  ).argument("<account>", "the storage account name (the last segment of storageAccountId)");

  registerLs(storage, io);
  registerGet(storage, io);
}

/** Where `-o -` writes: the process's stdout, or (in-process runs) the Io's out as text. */
function stdoutOf(io: Io): NodeJS.WritableStream {
  if (io === processIo) return process.stdout;
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      io.out(chunk.toString("utf8"));
      done();
    },
  });
}

interface BlobRow {
  name: string;
  size: number;
  contentMD5?: string;
  blobType?: string;
  lastModified?: string;
}

function registerLs(storage: Command, io: Io): void {
  operatorCommand(
    storage,
    io,
    {
      name: "ls",
      description: "list an account's containers, or the blobs of a container (name, size, MD5)",
    },
    async ({ cmd, send, print }) => {
      const [account, where] = cmd.processedArgs as [string, string | undefined];
      const service = await accountService(send, account);
      if (where === undefined || where.replace(/^\/+|\/+$/g, "") === "") {
        const names: string[] = [];
        try {
          for await (const c of service.listContainers()) names.push(c.name);
        } catch (e) {
          throw blobFailure(e, `listing the containers of ${account}`);
        }
        print(
          names.map((name) => ({ name })),
          () =>
            names.length === 0
              ? `no containers in ${account}\n`
              : table(
                  ["CONTAINER"],
                  names.map((n) => [n]),
                ),
        );
        return;
      }
      const { container, blob: prefix } = splitBlobPath(where);
      const rows: BlobRow[] = [];
      try {
        const client = service.getContainerClient(container);
        for await (const b of client.listBlobsFlat(prefix ? { prefix } : {})) {
          rows.push({
            name: b.name,
            size: b.properties.contentLength ?? 0,
            ...(hexOf(b.properties.contentMD5)
              ? { contentMD5: hexOf(b.properties.contentMD5) }
              : {}),
            ...(b.properties.blobType ? { blobType: b.properties.blobType } : {}),
            ...(b.properties.lastModified
              ? { lastModified: b.properties.lastModified.toISOString() }
              : {}),
          });
        }
      } catch (e) {
        if (isNotFound(e)) {
          throw new CliFailure(
            `error: there is no container '${container}' in account ${account} ` +
              `(drivebay storage ls ${account} lists the containers).`,
            1,
            404,
          );
        }
        throw blobFailure(e, `listing ${container} in ${account}`);
      }
      const total = rows.reduce((n, r) => n + r.size, 0);
      print(rows, () =>
        rows.length === 0
          ? `no blobs in ${container}${prefix ? ` starting with '${prefix}'` : ""}\n`
          : table(
              ["NAME", "SIZE", "BYTES", "CONTENT-MD5 (HEX)"],
              rows.map((r) => [r.name, humanBytes(r.size), String(r.size), r.contentMD5 ?? "-"]),
            ) + `${rows.length} blob(s), ${humanBytes(total)}\n`,
      );
    },
  )
    .argument("<account>", "the storage account name")
    .argument("[container[/prefix]]", "a container, or a container and a blob name prefix")
    .addHelpText(
      "after",
      `
Without a container, the account's containers are listed. CONTENT-MD5 is the blob's
Content-MD5 property in hex (as manifests write it); '-' when the blob has none.

Examples:
  drivebay storage ls mydata
  drivebay storage ls mydata photos/2026/`,
    );
}

function registerGet(storage: Command, io: Io): void {
  operatorCommand<{ force?: boolean }>(
    storage,
    io,
    { name: "get", description: "download a blob to a file or to stdout", output: false },
    async ({ cmd, opts, send, io }) => {
      const [account, path] = cmd.processedArgs as [string, string];
      const { container, blob } = splitBlobPath(path);
      if (container === "" || blob === "") {
        cmd.error(`error: name a blob as <container>/<blob name>; got '${path}'.`);
      }
      // -o here is the file (this command has no --output format).
      const target = (opts as { output?: string }).output ?? basename(blob);
      const toStdout = target === "-";
      if (!toStdout && existsSync(target) && !opts.force) {
        cmd.error(
          `error: ${resolve(target)} exists; choose another file with -o, or --force to replace it.`,
        );
      }
      const service = await accountService(send, account);
      const client = service.getContainerClient(container).getBlobClient(blob);
      let body: NodeJS.ReadableStream;
      let length: number;
      try {
        const r = await client.download();
        body = r.readableStreamBody!;
        length = r.contentLength ?? 0;
      } catch (e) {
        if (isNotFound(e)) {
          throw new CliFailure(
            `error: there is no blob '${blob}' in container '${container}' of account ${account} ` +
              `(drivebay storage ls ${account} ${container}/ lists them).`,
            1,
            404,
          );
        }
        throw blobFailure(e, `reading ${path} in ${account}`);
      }
      if (toStdout) {
        await pipeline(body, stdoutOf(io));
        return;
      }
      await pipeline(body, createWriteStream(target));
      io.err(`wrote ${resolve(target)} (${humanBytes(length)})\n`);
    },
  )
    .argument("<account>", "the storage account name")
    .argument("<container/blob>", "the blob, as <container>/<blob name>")
    .option(
      "-o, --output <file|->",
      "where to write it; - for stdout (default: the blob's file name here)",
    )
    .option("--force", "replace an existing file");
}
