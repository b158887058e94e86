import { bitLockerKeysList } from "./bitlocker-keys-list.ts";
import { jobsCreate } from "./jobs-create.ts";
import { jobsDelete } from "./jobs-delete.ts";
import { jobsGet } from "./jobs-get.ts";
import { jobsHistory } from "./jobs-history.ts";
import { jobsListByResourceGroup, jobsListBySubscription } from "./jobs-list.ts";
import { jobsUpdate } from "./jobs-update.ts";
import { locationsGet } from "./locations-get.ts";
import { locationsList } from "./locations-list.ts";
import { operationsList } from "./operations-list.ts";
import type { RouteDef } from "./route.ts";

export const ARM_ROUTES: readonly RouteDef[] = [
  operationsList,
  locationsList,
  locationsGet,
  jobsListBySubscription,
  jobsListByResourceGroup,
  jobsGet,
  jobsCreate,
  jobsUpdate,
  jobsDelete,
  bitLockerKeysList,
  jobsHistory,
];
