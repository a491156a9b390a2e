import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose';

/** The development signing key: created once per data dir, shared by the server and the CLI. */
export interface DevSigningKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  kid: string;
}

const ALG = 'ES256';
export const DEV_KEY_FILE = 'dev-signing-key.jwk.json';

/**
 * Loads `<dataDir>/dev-signing-key.jwk.json`, creating it (mode 600) on first use. Used only
 * when no JWKS URL is configured; never for production tokens.
 */
export async function loadOrCreateDevKey(dataDir: string): Promise<DevSigningKey> {
  const file = join(dataDir, DEV_KEY_FILE);
  if (!existsSync(file)) {
    await mkdir(dataDir, { recursive: true });
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), alg: ALG, kid: `dev-${Date.now().toString(36)}` };
    // 'wx': if the server and the CLI race on a fresh data dir, the first writer wins and both read its key.
    await writeFile(file, JSON.stringify(jwk), { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  const jwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
  const { d: _private, ...publicJwk } = jwk;
  return {
    privateKey: (await importJWK(jwk, ALG)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, ALG)) as CryptoKey,
    kid: jwk.kid as string,
  };
}

export const DEV_KEY_ALG = ALG;
