import type { ChartWardenOptions } from '../config/chartwarden.options.js';

/**
 * How staff sign in to the console (issue #18), from the module's identity and console options:
 * - `dev`: no JWKS is configured, so the server verifies tokens with the data dir's dev key;
 *   the console lists the demo users and the server signs a short token for the one chosen.
 *   Never in JWKS mode.
 * - `oidc`: the hospital's identity provider, by the authorization code flow with PKCE, done
 *   in the browser (`console.oidc`; the server's `CHARTWARDEN_OIDC_ISSUER` and `CHARTWARDEN_OIDC_CLIENT_ID`).
 * Both, one or neither may be on; with neither the console says how to configure sign-in.
 */
export interface ConsoleSignIn {
  dev: boolean;
  oidc?: OidcClientSettings;
}

/** The console as an OpenID Connect public client of the hospital's identity provider. */
export interface OidcClientSettings {
  /** The provider's issuer: discovery is `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  /** Scopes asked for (`openid` always). */
  scope: string;
}

/** How staff sign in, from the module's options: the dev key unless a JWKS is set, and the identity provider of `console.oidc`. */
export function consoleSignIn(options: ChartWardenOptions): ConsoleSignIn {
  const oidc = options.console?.oidc;
  return {
    dev: !options.identity?.jwksUrl,
    ...(oidc ? { oidc: { issuer: oidc.issuer.replace(/\/+$/, ''), clientId: oidc.clientId, scope: withOpenId(oidc.scope ?? 'openid profile') } } : {}),
  };
}

/** The scopes asked for, `openid` always among them. */
function withOpenId(scope: string): string {
  return scope.split(/\s+/).includes('openid') ? scope : `openid ${scope}`;
}
