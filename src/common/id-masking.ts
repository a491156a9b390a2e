/**
 * Identity-document numbers (resident ID card, passport, officer's card) as people who need not
 * know them read them (issue #18; PIPL: a resident ID number is sensitive personal information):
 * on papers (a sealed copy's patient side) and in workflow JSON for roles the policy does not
 * name in `settings.idNumbersVisibleTo`. What is stored keeps the whole number: it identifies
 * who asked, received or stood at the table.
 */

/** What stands for the hidden part of a number. */
const HIDDEN = '****';
/** How many of the last characters stay readable at most (and how many, at least, stay hidden). */
const KEPT = 4;

/**
 * The number masked, the one way ChartWarden masks an ID number on papers and in workflow JSON:
 * `****` and its last four characters (`****1234`, enough to tell two documents apart at the
 * desk). At least four characters stay hidden: a short number keeps fewer (`****56` for six), one
 * of four or fewer is hidden whole. The length is not told either.
 */
export function maskIdNumber(number: string): string {
  const chars = [...number.trim()];
  const kept = Math.min(KEPT, Math.max(0, chars.length - KEPT));
  return `${HIDDEN}${chars.slice(chars.length - kept).join('')}`;
}

/** How ID numbers are shown to one reader: whole, or masked (`maskIdNumber`). */
export type IdNumberShown = 'whole' | 'masked';

/** How an operator with `roles` reads ID numbers: whole when one of their roles is among those the policy names (`visibleTo`). */
export function idNumbersShown(roles: readonly string[], visibleTo: readonly string[]): IdNumberShown {
  return roles.some((role) => visibleTo.includes(role)) ? 'whole' : 'masked';
}

/** `number` as shown to a reader for whom numbers are `shown`. */
export function shownIdNumber(number: string, shown: IdNumberShown): string {
  return shown === 'whole' ? number : maskIdNumber(number);
}
