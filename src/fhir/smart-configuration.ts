import { DEV_ISSUER, type IdentityOptions, type OAuthGrantType } from '../config/chartwarden.options.js';

/**
 * The identity provider as ChartWarden is configured to trust it: what `/.well-known/smart-configuration`
 * and the CapabilityStatement's security section publish. In dev mode the tokens are signed by
 * the data dir's key (`npx chartwarden token`): no HTTP endpoint issues them, so none is published.
 */
export interface IdentityProvider {
  mode: 'jwks' | 'dev';
  issuer: string;
  jwksUri?: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  grantTypes: readonly OAuthGrantType[];
}

/** The configured identity provider (options as `ChartWardenOptions.identity`). */
export function identityProvider(identity: IdentityOptions = {}): IdentityProvider {
  if (!identity.jwksUrl) return { mode: 'dev', issuer: identity.issuer ?? DEV_ISSUER, grantTypes: [] };
  const { authorizationEndpoint, tokenEndpoint } = identity;
  const derived: OAuthGrantType[] = [];
  if (authorizationEndpoint) derived.push('authorization_code');
  if (tokenEndpoint) derived.push('client_credentials');
  return {
    mode: 'jwks',
    issuer: identity.issuer ?? DEV_ISSUER,
    jwksUri: identity.jwksUrl,
    ...(authorizationEndpoint ? { authorizationEndpoint } : {}),
    ...(tokenEndpoint ? { tokenEndpoint } : {}),
    grantTypes: identity.grantTypes ?? derived,
  };
}

/**
 * The SMART scopes ChartWarden enforces (`policy/domain/smart-scopes.ts`), with `*` for the type:
 * any type the policy governs may stand in its place (`user/Observation.rs`). v2 permissions
 * (c, r, u, s; never d: nothing is deleted, R-17) and v1 `read`, in the three contexts. Scopes
 * only narrow what the policy allows; `?param=` restrictions are refused, so none is listed.
 */
export const SMART_SCOPES: readonly string[] = ['patient', 'user', 'system'].flatMap((context) =>
  ['rs', 'cu', 'crus', 'read'].map((permissions) => `${context}/*.${permissions}`),
);

/**
 * What ChartWarden itself enforces of SMART App Launch 2 (https://hl7.org/fhir/smart-app-launch/conformance.html#capability-sets):
 * v1 and v2 scopes, `patient/` scopes against the token's `patient` claim, `user/` scopes.
 * Launch and client-authentication capabilities belong to the identity provider, which
 * ChartWarden cannot vouch for, so none is claimed.
 */
export const SMART_CAPABILITIES: readonly string[] = ['permission-v1', 'permission-v2', 'permission-patient', 'permission-user'];

/** `GET /.well-known/smart-configuration` (SMART App Launch 2.x, conformance.html#using-well-known). */
export interface SmartConfiguration {
  issuer: string;
  jwks_uri?: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  grant_types_supported: OAuthGrantType[];
  scopes_supported: string[];
  response_types_supported: string[];
  capabilities: string[];
  code_challenge_methods_supported: string[];
}

/**
 * The SMART configuration of `provider`. Only what works is published: without an authorization
 * endpoint there is no authorization code (no `response_types`, no PKCE method); SMART 2 requires
 * an authorization server to support `S256`, so it is named with the endpoint.
 */
export function smartConfiguration(provider: IdentityProvider): SmartConfiguration {
  const authorizes = provider.authorizationEndpoint !== undefined;
  return {
    issuer: provider.issuer,
    ...(provider.jwksUri ? { jwks_uri: provider.jwksUri } : {}),
    ...(provider.authorizationEndpoint ? { authorization_endpoint: provider.authorizationEndpoint } : {}),
    ...(provider.tokenEndpoint ? { token_endpoint: provider.tokenEndpoint } : {}),
    grant_types_supported: [...provider.grantTypes],
    scopes_supported: [...SMART_SCOPES],
    response_types_supported: authorizes ? ['code'] : [],
    capabilities: [...SMART_CAPABILITIES],
    code_challenge_methods_supported: authorizes ? ['S256'] : [],
  };
}
