import { createContext, useContext } from 'react';

/** What `GET /console/config.json` says (src/console/console-config.ts): sign-in, and the policy settings the console displays. */
export interface ConsoleConfig {
  signIn: { dev: boolean; oidc?: { issuer: string; clientId: string; scope: string } };
  hospitalName: string;
  timeZone: string;
  policyVersion: string;
  documentTypes: { code: string; display: string; zh?: string }[];
  copyRequests: {
    requesterTypes: string[];
    evidenceKinds: string[];
    /** Each item: one kind of evidence, or any one of several. */
    checklists: Record<string, string[][]>;
  };
  /** minutes a confirmation stays usable; years with no claim after which the hospital may unseal alone. */
  disputes: { confirmationMinutes: number; unilateralUnsealAfterYears: number };
  /** days a grant lasts by default and at most. */
  grants: { defaultDays: number; maxDays: number };
  /** The identifier systems whose value is the 病案号, first match wins (absent from an older server). */
  patients?: { medicalRecordNumberSystems: string[] };
}

/** Reads the console's configuration from the server that serves it. */
export async function loadConfig(): Promise<ConsoleConfig> {
  const res = await fetch('/console/config.json', { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET /console/config.json: ${res.status}`);
  return (await res.json()) as ConsoleConfig;
}

export const ConfigContext = createContext<ConsoleConfig | null>(null);

/** The configuration the app was started with. */
export function useConfig(): ConsoleConfig {
  const config = useContext(ConfigContext);
  if (!config) throw new Error('useConfig outside <ConfigContext.Provider>');
  return config;
}
