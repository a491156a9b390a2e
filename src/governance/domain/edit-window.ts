import type { EditWindowRule } from '../../policy/domain/edit-window-rule.js';

/** When a document was created and (if it was) signed. */
export interface DocumentTimes {
  created: Date;
  signed?: Date;
}

export type WindowDecision =
  | { open: true; until?: Date; rule: EditWindowRule }
  | { open: false; reason: 'no-rule' }
  | { open: false; reason: 'closed'; closedAt: Date; rule: EditWindowRule; anchor: Date };

/**
 * Whether an operator with `roles` may still change a document of `docType` now:
 * the most generous window among the rules naming one of the roles and the type. A window
 * from signing applies once the document is signed; an unsigned document is bound by the
 * windows from creation (and by none when the roles have only windows from signing).
 * No rule for the roles: closed (least privilege: the policy must say who edits what).
 */
export function editWindow(rules: readonly EditWindowRule[], roles: readonly string[], docType: string | undefined, times: DocumentTimes, now: Date): WindowDecision {
  const applicable = rules.filter((r) => r.roles.some((role) => roles.includes(role)) && (r.types === '*' || (docType !== undefined && r.types.includes(docType))));
  if (applicable.length === 0) return { open: false, reason: 'no-rule' };
  let latest: { until: Date; rule: EditWindowRule; anchor: Date } | undefined;
  for (const rule of applicable) {
    const anchor = rule.from === 'signed' ? times.signed : times.created;
    if (!anchor) continue; // unsigned: a window from signing does not apply (yet)
    const until = new Date(anchor.getTime() + rule.hours * 3_600_000);
    if (!latest || until > latest.until) latest = { until, rule, anchor };
  }
  // Only windows from signing, and not signed yet: the document is still being written.
  if (!latest) return { open: true, rule: applicable[0] };
  const best = latest;
  return now <= best.until ? { open: true, until: best.until, rule: best.rule } : { open: false, reason: 'closed', closedAt: best.until, rule: best.rule, anchor: best.anchor };
}
