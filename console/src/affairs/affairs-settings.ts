import { useConfig, type ConsoleConfig } from '../app/config';

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
