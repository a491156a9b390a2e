/**
 * `chartwarden/dev`: helpers for development and tests only, kept apart from the public API
 * (`chartwarden`) so production code does not reach them by accident. A dev token is signed
 * with the key in a data dir; a server accepts it only while no JWKS is configured
 * (docs/decisions/0003).
 */
export { issueDevToken, DevTokenError, type DevTokenRequest } from './identity/dev-token.issuer.js';
