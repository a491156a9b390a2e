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

describe('environment: the upstream FHIR server and how ChartWarden authenticates to it (issue #17)', () => {
  const URL_ONLY = { CHARTWARDEN_UPSTREAM_FHIR_URL: 'https://fhir.example/fhir' };
  const CLIENT = {
    CHARTWARDEN_UPSTREAM_TOKEN_URL: 'https://idp.example/oauth2/token',
    CHARTWARDEN_UPSTREAM_CLIENT_ID: 'chartwarden',
    CHARTWARDEN_UPSTREAM_CLIENT_SECRET: 'client-secret-from-the-vault',
  };
  /** Every upstream variable but the URL, each with a value its own schema accepts. */
  const OTHERS = {
    CHARTWARDEN_UPSTREAM_TOKEN: 'static-token',
    ...CLIENT,
    CHARTWARDEN_UPSTREAM_SCOPE: 'system/*.read',
    CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS: '30',
    CHARTWARDEN_UPSTREAM_TIMEOUT_MS: '5000',
  };
  /** The ConfigurationError `env` gives; fails the test when it is accepted. */
  const refusal = (env: NodeJS.ProcessEnv): ConfigurationError => {
    try {
      settingsFromEnv(env);
    } catch (e) {
      if (e instanceof ConfigurationError) return e;
      throw e;
    }
    throw new Error(`expected ${JSON.stringify(env)} to be refused`);
  };

  it('no upstream URL and no upstream variable: the embedded store (no store option at all)', () => {
    expect(settingsFromEnv({}).options.store).toBeUndefined();
    expect(settingsFromEnv({ CHARTWARDEN_UPSTREAM_FHIR_URL: '', CHARTWARDEN_UPSTREAM_TOKEN: '' }).options.store).toBeUndefined();
  });

  it('the URL alone: the remote store without authentication, the defaults left to the store module', () => {
    const store = settingsFromEnv(URL_ONLY).options.store;
    expect(store).toEqual({ kind: 'remote', url: 'https://fhir.example/fhir', auth: { kind: 'none' } });
    expect(store).toMatchObject({ syncIntervalSeconds: undefined, timeoutMs: undefined });
    // A blank variable is an unset one, as everywhere else in the environment.
    expect(settingsFromEnv({ ...URL_ONLY, CHARTWARDEN_UPSTREAM_TOKEN: '', CHARTWARDEN_UPSTREAM_SCOPE: '' }).options.store).toEqual(store);
  });

  it('the sync interval and the timeout are read as numbers (0 turns the sync off)', () => {
    const store = settingsFromEnv({ ...URL_ONLY, CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS: '0', CHARTWARDEN_UPSTREAM_TIMEOUT_MS: '100' }).options.store;
    expect(store).toEqual({ kind: 'remote', url: 'https://fhir.example/fhir', auth: { kind: 'none' }, syncIntervalSeconds: 0, timeoutMs: 100 });
  });

  it('a static token: bearer authentication with exactly that token', () => {
    const store = settingsFromEnv({ ...URL_ONLY, CHARTWARDEN_UPSTREAM_TOKEN: 'tok/en+with=signs' }).options.store;
    expect(store).toEqual({ kind: 'remote', url: 'https://fhir.example/fhir', auth: { kind: 'bearer', token: 'tok/en+with=signs' } });
  });

  it('token URL, client id and secret: OAuth2 client credentials, with the scope when one is set', () => {
    expect(settingsFromEnv({ ...URL_ONLY, ...CLIENT }).options.store).toEqual({
      kind: 'remote',
      url: 'https://fhir.example/fhir',
      auth: { kind: 'client-credentials', tokenUrl: 'https://idp.example/oauth2/token', clientId: 'chartwarden', clientSecret: 'client-secret-from-the-vault' },
    });
    const scoped = settingsFromEnv({ ...URL_ONLY, ...CLIENT, CHARTWARDEN_UPSTREAM_SCOPE: 'system/*.read system/*.write' }).options.store;
    expect(scoped).toMatchObject({ auth: { kind: 'client-credentials', clientId: 'chartwarden', scope: 'system/*.read system/*.write' } });
  });

  it('a static token and client credentials together are refused, naming both', () => {
    const both = refusal({ ...URL_ONLY, ...CLIENT, CHARTWARDEN_UPSTREAM_TOKEN: 'static-token' });
    expect(both.message).toMatch(/CHARTWARDEN_UPSTREAM_TOKEN\b/);
    expect(both.message).toMatch(/CHARTWARDEN_UPSTREAM_TOKEN_URL/);
  });

  it('a static token beside a token URL alone is refused as that contradiction, naming the static token too', () => {
    // Told only "set the client id and secret too", an operator who does so is then told the two contradict.
    const { CHARTWARDEN_UPSTREAM_TOKEN_URL } = CLIENT;
    const message = refusal({ ...URL_ONLY, CHARTWARDEN_UPSTREAM_TOKEN: 'static-token', CHARTWARDEN_UPSTREAM_TOKEN_URL }).message;
    expect(message).toMatch(/CHARTWARDEN_UPSTREAM_TOKEN\b/);
    expect(message).toMatch(/CHARTWARDEN_UPSTREAM_TOKEN_URL/);
  });

  it('client credentials in part (one or two of token URL, client id, secret) are refused, naming all three', () => {
    const names = Object.keys(CLIENT) as (keyof typeof CLIENT)[];
    const partial = [[0], [1], [2], [0, 1], [0, 2], [1, 2]].map((picked) => Object.fromEntries(picked.map((n) => [names[n], CLIENT[names[n]]])));
    for (const env of partial) {
      const message = refusal({ ...URL_ONLY, ...env }).message;
      for (const name of names) expect(message).toContain(name);
    }
  });

  it('a scope without a token URL is refused, naming the scope and the token URL', () => {
    for (const env of [{ ...URL_ONLY }, { ...URL_ONLY, CHARTWARDEN_UPSTREAM_TOKEN: 'static-token' }]) {
      const message = refusal({ ...env, CHARTWARDEN_UPSTREAM_SCOPE: 'system/*.read' }).message;
      expect(message).toMatch(/CHARTWARDEN_UPSTREAM_SCOPE.*needs CHARTWARDEN_UPSTREAM_TOKEN_URL/);
    }
  });

  it('any upstream variable without the upstream URL is refused, naming it and the URL', () => {
    for (const [name, value] of Object.entries(OTHERS)) {
      expect(refusal({ [name]: value }).message).toMatch(new RegExp(`${name}\\b.*need CHARTWARDEN_UPSTREAM_FHIR_URL`));
    }
    const all = refusal(OTHERS).message;
    for (const name of Object.keys(OTHERS)) expect(all).toContain(name);
  });

  it('an upstream or token URL that is no URL is refused, naming the variable', () => {
    expect(refusal({ CHARTWARDEN_UPSTREAM_FHIR_URL: 'fhir.example/fhir' }).message).toMatch(/CHARTWARDEN_UPSTREAM_FHIR_URL: .*URL/);
    expect(refusal({ ...URL_ONLY, ...CLIENT, CHARTWARDEN_UPSTREAM_TOKEN_URL: 'idp.example token' }).message).toMatch(/CHARTWARDEN_UPSTREAM_TOKEN_URL: .*URL/);
  });

  it('an upstream or token URL must be http(s): another scheme could never be fetched', () => {
    for (const url of ['mailto:fhir@hospital.example', 'file:///srv/fhir', 'ftp://fhir.example/fhir']) {
      expect(refusal({ CHARTWARDEN_UPSTREAM_FHIR_URL: url }).message).toMatch(/CHARTWARDEN_UPSTREAM_FHIR_URL/);
      expect(refusal({ ...URL_ONLY, ...CLIENT, CHARTWARDEN_UPSTREAM_TOKEN_URL: url }).message).toMatch(/CHARTWARDEN_UPSTREAM_TOKEN_URL/);
    }
    expect(settingsFromEnv({ CHARTWARDEN_UPSTREAM_FHIR_URL: 'http://127.0.0.1:8080/fhir' }).options.store).toMatchObject({ url: 'http://127.0.0.1:8080/fhir' });
  });

  it('a negative, fractional or non-numeric sync interval is refused, naming the variable', () => {
    for (const bad of ['-1', '1.5', 'hourly']) {
      expect(refusal({ ...URL_ONLY, CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS: bad }).message).toMatch(/CHARTWARDEN_UPSTREAM_SYNC_INTERVAL_SECONDS/);
    }
  });

  it('a timeout below 100 ms is refused, naming the variable (100 is accepted above)', () => {
    for (const bad of ['99', '0', '-5000', 'soon']) {
      expect(refusal({ ...URL_ONLY, CHARTWARDEN_UPSTREAM_TIMEOUT_MS: bad }).message).toMatch(/CHARTWARDEN_UPSTREAM_TIMEOUT_MS/);
    }
  });
});
