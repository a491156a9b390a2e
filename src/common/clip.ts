/**
 * `text` cut to at most `max` UTF-16 units, ending in `…` when cut, and never between the two
 * halves of a surrogate pair: half a pair is a character no column (and no UTF-8) can hold.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\ud800-\udbff]/.test(text[max - 2]) ? max - 2 : max - 1;
  return `${text.slice(0, end)}…`;
}
