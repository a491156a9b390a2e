import { createHash } from 'node:crypto';

/**
 * The patient side's drawn signature: a PNG the patient or their agent draws on the
 * tablet at sealing, kept as evidence with its SHA-256. Its size limit is a technical bound on
 * a picture of a signature, not a regulatory number (so it is not policy data): a signature pad
 * of 1200×400 pixels compresses to well under it.
 */
export const MAX_SIGNATURE_BYTES = 512 * 1024;

/** The eight bytes every PNG starts with (PNG specification §5.2). */
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A drawn signature as received: its bytes and their SHA-256. */
export interface DrawnSignature {
  bytes: Buffer;
  sha256: string;
}

/** A drawn signature as the case records it with the patient side (the bytes are kept apart, append-only). */
export interface SignatureOnRecord {
  contentType: 'image/png';
  sha256: string;
  size: number;
}

/** Why a signature is not taken: not a base64 PNG (`invalid`), or larger than `MAX_SIGNATURE_BYTES` (`too-large`). */
export interface SignatureProblem {
  problem: 'invalid' | 'too-large';
  message: string;
}

/**
 * Reads `patientWitness.signature` (`{ contentType: 'image/png', data: <base64> }`): undefined
 * when absent, the bytes and their hash when a PNG (by its bytes) within the limit, else the problem.
 */
export function readSignature(value: unknown): DrawnSignature | SignatureProblem | undefined {
  if (value === undefined || value === null) return undefined;
  const { contentType, data } = (typeof value === 'object' ? value : {}) as { contentType?: unknown; data?: unknown };
  if (contentType !== 'image/png' || typeof data !== 'string' || !BASE64.test(data) || data.length === 0) {
    return { problem: 'invalid', message: "patientWitness.signature: { contentType: 'image/png', data: the PNG's bytes in base64 }" };
  }
  // Refused by its length before it is decoded: 4 base64 characters carry 3 bytes.
  if (Math.floor((data.length * 3) / 4) - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0) > MAX_SIGNATURE_BYTES) {
    return { problem: 'too-large', message: `patientWitness.signature: a drawn signature is at most ${MAX_SIGNATURE_BYTES} bytes` };
  }
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length <= PNG_MAGIC.length || !bytes.subarray(0, PNG_MAGIC.length).equals(PNG_MAGIC)) {
    return { problem: 'invalid', message: 'patientWitness.signature: the data is not a PNG image (its bytes do not start as a PNG does)' };
  }
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** What the case records of a drawn signature. */
export function signatureOnRecord(s: DrawnSignature): SignatureOnRecord {
  return { contentType: 'image/png', sha256: s.sha256, size: s.bytes.length };
}
