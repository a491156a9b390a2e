import { ConfigurationError, settingsFromEnv } from './env.config.js';

describe('environment: CORS origins and the identity provider published to SMART apps (issue #16)', () => {
  const JWKS = { CHARTWARDEN_JWKS_URL: 'https://idp.example/jwks', CHARTWARDEN_ISSUER: 'https://idp.example' };

  it('CHARTWARDEN_CORS_ORIGINS is a comma list of exact origins; unset means no CORS at all', () => {
    expect(settingsFromEnv({}).options.cors).toBeUndefined();
    expect(settingsFromEnv({ CHARTWARDEN_CORS_ORIGINS: ' https://app.example, http://localhost:5173 ,' }).options.cors).toEqual({
      origins: ['https://app.example', 'http://localhost:5173'],
    });
  });

  it('an origin with a path, a trailing slash, a wildcard or another scheme stops start-up naming the variable', () => {
    for (const bad of ['*', 'https://app.example/', 'https://app.example/path', 'https://*.example', 'app.example', 'file:///x', 'null']) {
      expect(() => settingsFromEnv({ CHARTWARDEN_CORS_ORIGINS: bad })).toThrow(ConfigurationError);
      expect(() => settingsFromEnv({ CHARTWARDEN_CORS_ORIGINS: bad })).toThrow(/CHARTWARDEN_CORS_ORIGINS/);
    }
  });

  it('the identity provider\'s endpoints and grants reach the identity options in JWKS mode', () => {
    const identity = settingsFromEnv({
      ...JWKS,
      CHARTWARDEN_AUTHORIZATION_ENDPOINT: 'https://idp.example/authorize',
      CHARTWARDEN_TOKEN_ENDPOINT: 'https://idp.example/token',
      CHARTWARDEN_GRANT_TYPES: 'client_credentials',
    }).options.identity;
    expect(identity).toMatchObject({ authorizationEndpoint: 'https://idp.example/authorize', tokenEndpoint: 'https://idp.example/token', grantTypes: ['client_credentials'] });
    expect(() => settingsFromEnv({ ...JWKS, CHARTWARDEN_GRANT_TYPES: 'password' })).toThrow(/CHARTWARDEN_GRANT_TYPES/);
  });

  it('endpoints or grants without a JWKS are refused: the dev key is no identity provider', () => {
    for (const name of ['CHARTWARDEN_AUTHORIZATION_ENDPOINT', 'CHARTWARDEN_TOKEN_ENDPOINT']) {
      expect(() => settingsFromEnv({ [name]: 'https://idp.example/x' })).toThrow(new RegExp(`${name}.*need CHARTWARDEN_JWKS_URL`));
    }
    expect(() => settingsFromEnv({ CHARTWARDEN_GRANT_TYPES: 'authorization_code' })).toThrow(/CHARTWARDEN_GRANT_TYPES.*need CHARTWARDEN_JWKS_URL/);
  });
});
