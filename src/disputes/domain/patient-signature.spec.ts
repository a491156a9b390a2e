import { createHash } from 'node:crypto';
import { MAX_SIGNATURE_BYTES, readSignature, signatureOnRecord } from './patient-signature.js';

/** The smallest PNG: a 1×1 picture. */
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');

describe('The patient side\'s drawn signature (R-40)', () => {
  it('a base64 PNG is read with the SHA-256 of its bytes, and recorded by that hash and size', () => {
    const read = readSignature({ contentType: 'image/png', data: PNG.toString('base64') });
    expect(read).toEqual({ bytes: PNG, sha256: createHash('sha256').update(PNG).digest('hex') });
    expect(signatureOnRecord(read as { bytes: Buffer; sha256: string })).toEqual({ contentType: 'image/png', sha256: createHash('sha256').update(PNG).digest('hex'), size: PNG.length });
  });

  it('none is none', () => {
    expect(readSignature(undefined)).toBeUndefined();
    expect(readSignature(null)).toBeUndefined();
  });

  it.each([
    ['another type', { contentType: 'image/jpeg', data: PNG.toString('base64') }],
    ['not base64', { contentType: 'image/png', data: '不是 base64' }],
    ['empty', { contentType: 'image/png', data: '' }],
    ['a JPEG called a PNG', { contentType: 'image/png', data: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]).toString('base64') }],
    ['the PNG signature alone', { contentType: 'image/png', data: PNG.subarray(0, 8).toString('base64') }],
    ['a string', 'iVBORw0KGgo='],
  ])('%s is refused as invalid', (_, value) => {
    expect(readSignature(value)).toMatchObject({ problem: 'invalid' });
  });

  it('one byte over the limit is refused as too large, before it is decoded; at the limit it is read', () => {
    const at = Buffer.concat([PNG, Buffer.alloc(MAX_SIGNATURE_BYTES - PNG.length)]);
    expect(readSignature({ contentType: 'image/png', data: at.toString('base64') })).toMatchObject({ sha256: expect.any(String) });
    const over = Buffer.concat([at, Buffer.alloc(1)]);
    expect(readSignature({ contentType: 'image/png', data: over.toString('base64') })).toMatchObject({ problem: 'too-large' });
  });
});
