import { ConfigurationError, settingsFromEnv } from '../config/env.config.js';
import { consoleSignIn } from './console-settings.js';

const base = { databaseUrl: '', dataDir: '/tmp/x' };
const jwks = { jwksUrl: 'https://idp.example/jwks', issuer: 'https://idp.example' };
/** The console options the standalone server reads from `env`. */
const consoleOf = (env: NodeJS.ProcessEnv) => settingsFromEnv(env).options.console;

describe('console settings (issue #18, decision 0019)', () => {
  it('dev sign-in only without a JWKS; OIDC only when the options name an identity provider', () => {
    expect(consoleSignIn({ ...base, console: { enabled: true } })).toEqual({ dev: true });
    expect(consoleSignIn({ ...base, identity: jwks, console: { enabled: true } })).toEqual({ dev: false });
    expect(consoleSignIn({ ...base, identity: jwks, console: { enabled: true, oidc: { issuer: 'https://idp.example/realms/h/', clientId: 'console' } } })).toEqual({
      dev: false,
      oidc: { issuer: 'https://idp.example/realms/h', clientId: 'console', scope: 'openid profile' },
    });
  });

  it('asks for openid whatever scope is set', () => {
    const scopeOf = (scope: string) => consoleSignIn({ ...base, console: { enabled: true, oidc: { issuer: 'https://idp.example', clientId: 'c', scope } } }).oidc?.scope;
    expect(scopeOf('profile roles')).toBe('openid profile roles');
    expect(scopeOf('openid x')).toBe('openid x');
  });

  it('the standalone server serves the console and sends / to it unless CHARTWARDEN_CONSOLE=off; a host embedding the module opts in', () => {
    expect(consoleOf({})).toEqual({ enabled: true, redirectRoot: true, oidc: undefined });
    expect(consoleOf({ CHARTWARDEN_CONSOLE: 'off' })?.enabled).toBe(false);
    expect(() => consoleOf({ CHARTWARDEN_CONSOLE: 'maybe' })).toThrow('CHARTWARDEN_CONSOLE');
    expect(consoleOf({ CHARTWARDEN_OIDC_ISSUER: 'https://idp.example', CHARTWARDEN_OIDC_CLIENT_ID: 'c', CHARTWARDEN_OIDC_SCOPE: 'profile' })?.oidc).toEqual({
      issuer: 'https://idp.example',
      clientId: 'c',
      scope: 'profile',
    });
  });

  it('refuses an issuer without a client id or the reverse, an issuer that is not a URL, and plain http off localhost', () => {
    expect(() => consoleOf({ CHARTWARDEN_OIDC_ISSUER: 'https://idp.example' })).toThrow(ConfigurationError);
    expect(() => consoleOf({ CHARTWARDEN_OIDC_CLIENT_ID: 'console' })).toThrow('set together');
    expect(() => consoleOf({ CHARTWARDEN_OIDC_ISSUER: 'idp', CHARTWARDEN_OIDC_CLIENT_ID: 'c' })).toThrow('CHARTWARDEN_OIDC_ISSUER: a URL');
    expect(() => consoleOf({ CHARTWARDEN_OIDC_ISSUER: 'http://idp.example', CHARTWARDEN_OIDC_CLIENT_ID: 'c' })).toThrow('https');
    expect(consoleOf({ CHARTWARDEN_OIDC_ISSUER: 'http://127.0.0.1:9000', CHARTWARDEN_OIDC_CLIENT_ID: 'c' })?.oidc?.issuer).toBe('http://127.0.0.1:9000');
    expect(consoleOf({ CHARTWARDEN_OIDC_ISSUER: '', CHARTWARDEN_OIDC_CLIENT_ID: '' })?.oidc).toBeUndefined();
  });
});
