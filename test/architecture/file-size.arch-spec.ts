import { lineCount, sourceFiles } from './source-tree.js';

/**
 * No source file over 400 lines (issue #15, docs/decisions/0013-layers-and-seams.md): a file
 * that grows past it holds more than one job (the god services the review found ran to 700).
 * Every `.ts` file under src/ counts, unit specs included; lines as `wc -l` counts them.
 */
const MAX_LINES = 400;

describe('architecture: file size (decision 0013)', () => {
  it(`no file under src/ has more than ${MAX_LINES} lines`, () => {
    const offences = sourceFiles()
      .map((f) => ({ path: f.path, lines: lineCount(f.text) }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.path} has ${f.lines} lines (at most ${MAX_LINES})`);
    expect(offences).toEqual([]);
  });
});
