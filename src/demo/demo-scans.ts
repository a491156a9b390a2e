import { crc32, deflateSync } from 'node:zlib';

/**
 * The documents a requester presents at the record-room desk, as the desk's camera would scan
 * them (issue #18): small PNG pictures of a card or a sheet, a coloured band on top and grey
 * lines for the text, so the console's thumbnails show something. Made here, with no image
 * library: a PNG is a signature, an IHDR, one zlib-compressed IDAT and an IEND.
 */

/** Colours (RGB) of the band on each kind of evidence; any other kind is grey. */
const BAND: Readonly<Record<string, [number, number, number]>> = {
  'id-card': [44, 110, 170],
  'agent-id': [44, 140, 120],
  'proof-of-agency': [150, 110, 40],
  'power-of-attorney': [170, 60, 60],
  'legal-request': [160, 40, 40],
  'officer-id': [30, 60, 120],
  'work-id': [70, 90, 140],
  'insurance-contract': [40, 120, 60],
  'patient-consent': [120, 70, 150],
};

/**
 * A scan of one piece of evidence: an ID card (landscape, 320×200) or a sheet (portrait,
 * 200×280), with `lines` lines of "text" varying by `seed`, so two scans differ in their bytes.
 */
export function evidenceScan(kind: string, seed: number): Buffer {
  const card = kind.endsWith('id') || kind === 'id-card';
  const [width, height] = card ? [320, 200] : [200, 280];
  const band = BAND[kind] ?? [110, 110, 110];
  const paper: [number, number, number] = card ? [236, 242, 248] : [252, 251, 247];
  const lines = card ? 4 : 9;
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3); // filter byte 0 (None), then RGB
    for (let x = 0; x < width; x++) {
      let rgb = paper;
      const border = x < 3 || y < 3 || x >= width - 3 || y >= height - 3;
      if (border || y < (card ? 36 : 30)) rgb = band;
      const line = Math.floor((y - 50) / 18);
      const inLine = y >= 50 && (y - 50) % 18 < 7 && line < lines;
      const lineEnd = width - 24 - ((seed * 37 + line * 53) % (width / 3));
      if (inLine && x > 20 && x < lineEnd) rgb = [150, 150, 150];
      // An ID card has its photo on the right.
      if (card && x > width - 90 && x < width - 20 && y > 50 && y < 150) rgb = [200, 205, 212];
      row[1 + x * 3] = rgb[0];
      row[2 + x * 3] = rgb[1];
      row[3 + x * 3] = rgb[2];
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per channel, truecolour, deflate, adaptive filtering, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
