/**
 * `drivebay storage …`: where imported data lands and how to read it (SPEC §4.3), through
 * the operator API (`/operator/v1/storage`) and its key. `show` prints a connection string
 * for the Azure SDKs, Azure Storage Explorer or `az storage --connection-string`.
 */
import { Command } from "commander";
import { operatorCommand } from "./operator.ts";
import { table, type Io } from "./output.ts";

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
}
