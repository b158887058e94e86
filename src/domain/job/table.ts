/**
 * The shape of a lifecycle table cell (state × event → rule), shared by the job table and
 * the drive table. A rule is a refusal, an event that changes nothing, a purge, or a
 * transition; `when` picks between two rules by a named guard on the job (or drive) as the
 * event finds it. A transition's target may be chosen by guards too, on the job as the
 * event leaves it (e.g. "Packaging once no drive is being copied").
 */

/** The next state of a transition: a state, the same state, or the first case that holds. */
export type Target<S extends string, G extends string> =
  | S
  | "same"
  /** The state a faulted job came from (the job table's `resolve`). */
  | "faultedFrom"
  | { cases: readonly (readonly [G, S])[]; otherwise: S | "same" };

export type Leaf<S extends string, G extends string, C extends string, E extends string> =
  | { kind: "refuse"; code: C }
  /** The event changes nothing: a repeated request, a drive that already moved on. */
  | { kind: "ignore"; why: string }
  /** The job is deleted with its history. */
  | { kind: "purge"; why: string }
  | { kind: "go"; to: Target<S, G>; effects: readonly E[] };

export type Rule<S extends string, G extends string, C extends string, E extends string> =
  | Leaf<S, G, C, E>
  | { kind: "when"; guard: G; then: Rule<S, G, C, E>; otherwise: Rule<S, G, C, E> };

/** A named condition, with the words the generated document (docs/lifecycle.md) uses. */
export interface Guard<T, V> {
  label: string;
  holds(subject: T, event: V | undefined): boolean;
  /**
   * The request itself may make it hold (the shipping details may come with the PATCH that
   * ships): asked without a request (`allowedEvents`), it is taken to hold.
   */
  request?: boolean;
}

export const refuse = <C extends string>(code: C) => ({ kind: "refuse", code }) as const;
export const ignore = (why: string) => ({ kind: "ignore", why }) as const;
export const purge = (why: string) => ({ kind: "purge", why }) as const;

/** The leaf a rule comes to for this subject (`holds` answers the guards). */
export function admit<S extends string, G extends string, C extends string, E extends string>(
  rule: Rule<S, G, C, E>,
  holds: (guard: G) => boolean,
): Leaf<S, G, C, E> {
  let r = rule;
  while (r.kind === "when") r = holds(r.guard) ? r.then : r.otherwise;
  return r;
}

/** Every leaf a rule can come to, whatever its guards say. */
export function leaves<S extends string, G extends string, C extends string, E extends string>(
  rule: Rule<S, G, C, E>,
): Leaf<S, G, C, E>[] {
  return rule.kind === "when" ? [...leaves(rule.then), ...leaves(rule.otherwise)] : [rule];
}

/** The state a transition leads to from `current` (`holds` answers the guards on the changed subject). */
export function targetOf<S extends string, G extends string>(
  to: Target<S, G>,
  current: S,
  holds: (guard: G) => boolean,
  faultedFrom?: S,
): S {
  if (to === "same") return current;
  if (to === "faultedFrom") return faultedFrom ?? current;
  if (typeof to === "object") {
    const hit = to.cases.find(([g]) => holds(g));
    const chosen = hit ? hit[1] : to.otherwise;
    return chosen === "same" ? current : chosen;
  }
  return to;
}

/** The states a target may lead to (for documents and derived sets). */
export function targetsOf<S extends string, G extends string>(
  to: Target<S, G>,
): (S | "same" | "faultedFrom")[] {
  if (typeof to === "object") return [...to.cases.map(([, s]) => s), to.otherwise];
  return [to];
}
