/**
 * The readable text of the XHTML a record carries (a narrative's `div`, an HTML attachment), as
 * a copy prints it: one string per line.
 */

/** Elements that start and end a line of their own. */
const BLOCK = /^(p|div|li|tr|table|thead|tbody|tfoot|ul|ol|dl|dt|dd|h[1-6]|blockquote|pre|hr|caption)$/i;

/**
 * The readable text of an XHTML narrative (FHIR `Narrative.div`), one array entry per line:
 * tags are removed; `<br>` and block elements (`<p>`, `<div>`, `<li>`, `<tr>`, headings…)
 * break lines, list items start with `- `, table cells are separated by ` | `; whitespace of
 * the source is collapsed as a browser would; entities are decoded after the tags are gone,
 * so an escaped `&lt;b&gt;` stays text.
 */
export function xhtmlText(div: string): string[] {
  const marked = div
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/\s+/g, ' ')
    .replace(/<(\/?)([a-z][a-z0-9]*)\b[^>]*>/gi, (_tag, close: string, name: string) => {
      const n = name.toLowerCase();
      if (n === 'br') return '\n';
      if (n === 'li' && !close) return '\n- ';
      if ((n === 'td' || n === 'th') && close) return '\t';
      return BLOCK.test(n) ? '\n' : '';
    })
    .replace(/<[^>]*>/g, '');
  return decodeEntities(marked)
    .split('\n')
    .map((line) =>
      line
        .split('\t')
        .map((cell) => cell.replace(/[ \u00a0]+/g, ' ').trim())
        .filter((cell) => cell !== '')
        .join(' | '),
    )
    .filter((line) => line !== '' && line !== '-');
}

const ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  middot: '·',
  times: '×',
  divide: '÷',
  deg: '°',
  plusmn: '±',
  micro: 'µ',
  le: '≤',
  ge: '≥',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  copy: '©',
  reg: '®',
};

/** Named (the common ones), decimal and hexadecimal entities, in one pass: `&amp;lt;` is `&lt;`, not `<`. Unknown ones stay as written. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z][a-zA-Z0-9]*);/g, (entity, body: string) => {
    if (body.startsWith('#')) {
      const code = /^#x/i.test(body) ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : entity;
    }
    return ENTITIES[body] ?? entity;
  });
}
