/**
 * Development auth (SPEC §6): any bearer token is accepted. When the token is a JWT its
 * unverified claims name the caller for systemData, so createdBy reads like Azure's.
 */
import type { Principal } from "../../service/job-service.ts";

export function principalFrom(authorization: string | undefined): Principal {
  const token = /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1];
  if (token) {
    const parts = token.split(".");
    if (parts.length === 3) {
      try {
        const claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as Record<
          string,
          unknown
        >;
        const user = claims.upn ?? claims.unique_name ?? claims.preferred_username ?? claims.email;
        if (typeof user === "string") return { id: user, type: "User" };
        const app = claims.appid ?? claims.azp ?? claims.oid ?? claims.sub;
        if (typeof app === "string") return { id: app, type: "Application" };
      } catch {
        // not a JWT: fall through
      }
    }
  }
  return { id: "developer@drivebay.local", type: "User" };
}
