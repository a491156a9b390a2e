import { useState } from 'react';
import { useSession } from '../auth/session';
import { useConfig, type ConsoleConfig } from '../app/config';
import type { Confirmation } from './approvals.api';

/**
 * The policy numbers the inbox shows, from `GET /console/config.json`
 * (`disputes.unilateralUnsealAfterYears`, `disputes.confirmationMinutes`, `grants.maxDays`); a
 * server that does not state one leaves it undefined, and the pages say so rather than guess.
 */
export function usePolicyNumbers(): { unsealYears?: number; confirmationMinutes?: number; grantMaxDays?: number } {
  const config: Partial<ConsoleConfig> = useConfig();
  const positive = (n: unknown) => (typeof n === 'number' && n > 0 ? n : undefined);
  return {
    unsealYears: positive(config.disputes?.unilateralUnsealAfterYears),
    confirmationMinutes: positive(config.disputes?.confirmationMinutes),
    grantMaxDays: positive(config.grants?.maxDays),
  };
}

/**
 * Unseal approvals given in this tab, still usable by the disputes office (until their
 * `validUntil`): the API has no way to list a case's confirmations, so the inbox remembers the
 * ones it gave, per signed-in person, in sessionStorage (gone with the tab).
 */
const KEY = 'chartwarden.console.affairs.unseal-approvals';

type Stored = Record<string, Confirmation[]>;

function read(): Stored {
  try {
    return (JSON.parse(sessionStorage.getItem(KEY) ?? '{}') as Stored) ?? {};
  } catch {
    return {};
  }
}

export function useUnsealApprovals(now = Date.now()): { given: Confirmation[]; remember: (c: Confirmation) => void } {
  const { session } = useSession();
  const user = session.user.id;
  const [stored, setStored] = useState<Confirmation[]>(() => read()[user] ?? []);
  return {
    given: stored.filter((c) => Date.parse(c.validUntil) > now),
    remember: (c) => {
      const all = read();
      all[user] = [...(all[user] ?? []).filter((x) => Date.parse(x.validUntil) > Date.now() && x.dispute !== c.dispute), c];
      sessionStorage.setItem(KEY, JSON.stringify(all));
      setStored(all[user]);
    },
  };
}
