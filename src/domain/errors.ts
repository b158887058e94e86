/**
 * One error type for every rule the product enforces, and one catalogue that maps each
 * code to an HTTP status. The API renders these into the ARM error envelope; the domain
 * never knows about HTTP beyond this table.
 */
export const ERROR_CATALOGUE = {
  // ARM front door
  MissingApiVersionParameter: 400,
  NoRegisteredProviderFound: 400,
  InvalidApiVersionParameter: 400,
  InvalidSubscriptionId: 400,
  InvalidResourceGroupName: 400,
  InvalidResourceName: 400,
  InvalidResourceType: 404,
  MethodNotAllowed: 405,
  AuthenticationFailed: 401,
  AuthorizationFailed: 403,
  SubscriptionRequestsThrottled: 429,
  LinkedAuthorizationFailed: 403,
  // request content
  BadRequest: 400,
  RequestHeaderFieldsTooLarge: 431,
  InvalidRequestUri: 400,
  InvalidRequestContent: 400,
  MissingRequiredProperty: 400,
  UnsupportedMediaType: 415,
  RequestEntityTooLarge: 413,
  InvalidQueryParameterValue: 400,
  InvalidFilter: 400,
  InvalidSkipToken: 400,
  // tags
  TooManyTags: 400,
  InvalidTagName: 400,
  InvalidTagValue: 400,
  // create-time validation
  LocationNotAvailableForResourceType: 400,
  InvalidStorageAccountId: 400,
  StorageAccountNotFound: 400,
  InvalidDriveList: 400,
  DuplicateDriveId: 400,
  InvalidExportDefinition: 400,
  // lifecycle
  ShippingInformationMissing: 400,
  InvalidStateTransition: 400,
  JobNotUpdatable: 409,
  JobNotCancellable: 409,
  JobNotDeletable: 409,
  ConcurrentUpdateConflict: 409,
  // datacenter side
  OperatorActionNotAllowed: 409,
  PackageNotFound: 404,
  PackageAlreadyReceived: 409,
  AmbiguousTrackingNumber: 409,
  DriveNotFound: 404,
  DriveNotReceived: 409,
  DriveNotAttached: 409,
  DriveNotTransferring: 409,
  DriveBelongsToAnotherJob: 409,
  TooManyDrives: 409,
  JobCancelled: 409,
  InvalidDrivePath: 400,
  OperatorCredentialsNotAccepted: 403,
  ClockControlDisabled: 403,
  // lookups
  ResourceNotFound: 404,
  LocationNotFound: 404,
  NotFound: 404,
  // last resort
  InternalServerError: 500,
  ServiceUnavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface ErrorDetail {
  code: string;
  message: string;
  target?: string;
}

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly target: string | undefined;
  readonly details: ErrorDetail[] | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { target?: string; details?: ErrorDetail[] } = {},
  ) {
    super(message);
    this.name = "DomainError";
    this.code = code;
    this.target = options.target;
    this.details = options.details;
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code];
  }
}

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainError;
}
