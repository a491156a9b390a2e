import { parseScopes } from '../policy/domain/smart-scopes.js';
import { identityProvider, SMART_SCOPES, smartConfiguration } from './smart-configuration.js';

describe('SMART configuration (SMART App Launch 2, conformance)', () => {
  it('dev mode publishes no OAuth endpoint, no grant, no authorization code: the dev key issues tokens, not HTTP', () => {
    const config = smartConfiguration(identityProvider({}));
    expect(config).toEqual({
      issuer: 'chartwarden-dev',
      grant_types_supported: [],
      scopes_supported: SMART_SCOPES,
      response_types_supported: [],
      capabilities: ['permission-v1', 'permission-v2', 'permission-patient', 'permission-user'],
      code_challenge_methods_supported: [],
    });
  });

  it('JWKS mode publishes the identity provider as configured, grants derived from its endpoints', () => {
    const identity = {
      jwksUrl: 'https://idp.example/jwks',
      issuer: 'https://idp.example',
      authorizationEndpoint: 'https://idp.example/authorize',
      tokenEndpoint: 'https://idp.example/token',
    };
    const config = smartConfiguration(identityProvider(identity));
    expect(config).toMatchObject({
      issuer: 'https://idp.example',
      jwks_uri: 'https://idp.example/jwks',
      authorization_endpoint: 'https://idp.example/authorize',
      token_endpoint: 'https://idp.example/token',
      grant_types_supported: ['authorization_code', 'client_credentials'],
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
    });
    expect(config.code_challenge_methods_supported).not.toContain('plain');
    // A token endpoint alone: a backend service (the HIS) only.
    expect(smartConfiguration(identityProvider({ ...identity, authorizationEndpoint: undefined }))).toMatchObject({
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      code_challenge_methods_supported: [],
    });
    // Grants as configured, when the identity provider says otherwise.
    expect(smartConfiguration(identityProvider({ ...identity, grantTypes: ['authorization_code'] })).grant_types_supported).toEqual(['authorization_code']);
  });

  it('every scope listed is one ChartWarden enforces: it parses, grants something, and never delete (R-17)', () => {
    for (const scope of SMART_SCOPES) {
      const [grant, ...more] = parseScopes([scope]);
      expect(more).toEqual([]);
      expect(grant.permissions.size).toBeGreaterThan(0);
      expect(grant.permissions.has('d')).toBe(false);
    }
    expect(SMART_SCOPES).toEqual(expect.arrayContaining(['patient/*.rs', 'user/*.crus', 'system/*.cu']));
  });
});
