import { base64url, jwtClaims, randomToken, s256Challenge } from './pkce';

/** PKCE (RFC 7636) as the console computes it with WebCrypto, checked in Node against the RFC's own example. */
describe('PKCE S256 (RFC 7636)', () => {
  it('gives the challenge of RFC 7636 Appendix B for its verifier', async () => {
    await expect(s256Challenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).resolves.toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('makes verifiers of 43 unreserved characters, each different', () => {
    const verifiers = Array.from({ length: 50 }, () => randomToken(32));
    for (const v of verifiers) expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(verifiers).size).toBe(50);
  });

  it('refuses a verifier the RFC does not allow (too short, or with other characters)', async () => {
    await expect(s256Challenge('short')).rejects.toThrow('43 to 128 unreserved characters');
    await expect(s256Challenge(`${'a'.repeat(43)}+`)).rejects.toThrow('43 to 128 unreserved characters');
    await expect(s256Challenge('a'.repeat(129))).rejects.toThrow('43 to 128 unreserved characters');
  });

  it('writes base64url without padding, with - and _ for + and /', () => {
    expect(base64url(new Uint8Array([0xfb, 0xff, 0xfe]))).toBe('-__-');
    expect(base64url(new Uint8Array([0x66]))).toBe('Zg');
  });

  it('reads a JWT\'s claims (UTF-8 included) and nothing from what is not one', () => {
    const payload = Buffer.from(JSON.stringify({ sub: 'clerk-liu', name: '刘芳', roles: ['record-room'] })).toString('base64url');
    expect(jwtClaims(`eyJhbGciOiJub25lIn0.${payload}.sig`)).toEqual({ sub: 'clerk-liu', name: '刘芳', roles: ['record-room'] });
    expect(jwtClaims('not-a-jwt')).toEqual({});
    expect(jwtClaims('a.%%%.c')).toEqual({});
  });
});
