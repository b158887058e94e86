import { DomainError } from "../../domain/errors.ts";

export interface ArmErrorBody {
  error: {
    code: string;
    message: string;
    target?: string;
    details?: { code: string; message: string; target?: string }[];
  };
}

export function envelope(err: DomainError): ArmErrorBody {
  const body: ArmErrorBody = { error: { code: err.code, message: err.message } };
  if (err.target !== undefined) body.error.target = err.target;
  if (err.details !== undefined && err.details.length > 0) body.error.details = err.details;
  return body;
}

/** Maps an error Fastify raised itself (body parsing, limits) to a domain error. */
export function fromFrameworkError(err: {
  code?: string;
  statusCode?: number;
  message: string;
}): DomainError | undefined {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new DomainError(
        "RequestEntityTooLarge",
        "The request body is larger than the 1 MiB this API accepts. Send a smaller body.",
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new DomainError(
        "UnsupportedMediaType",
        "The request body must be JSON: send 'Content-Type: application/json'.",
      );
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new DomainError(
        "InvalidRequestContent",
        `The request body could not be read: ${err.message}`,
      );
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return new DomainError("InvalidRequestContent", err.message);
  }
  return undefined;
}
