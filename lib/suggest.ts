/**
 * "Did you mean": the known name closest to a mistyped one, for messages
 * about an unknown CLI option, command or export name.
 */

/**
 * Edit distance counting a swap of two neighbours as one edit (optimal
 * string alignment: `mpa` is one typo from `map`), case-insensitive.
 */
function distance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // rows[i][j]: distance between the first i characters of s and the first j of t.
  const rows: number[][] = [Array.from({ length: t.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[s.length]![t.length]!;
}

/**
 * The candidate closest to `name`, if it is close enough to be a typo: at
 * most a third of its length away (at least 1, at most 3 edits), or a
 * candidate that starts with `name` (an abbreviation, `--fail` for
 * `--fail-fast`). Undefined when nothing is that close or two are equally so.
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let tie = false;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const d = distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
      tie = false;
    } else if (d === bestDistance && candidate !== best) {
      tie = true;
    }
  }
  if (best !== undefined && bestDistance <= limit && !tie) return best;
  const prefixed = candidates.filter(
    (candidate) => name.length >= 3 && candidate.toLowerCase().startsWith(name.toLowerCase()),
  );
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** `"; did you mean 'x'?"`, or '' when nothing is close. */
export function didYouMean(name: string, candidates: readonly string[], quote = "'"): string {
  const match = closest(name, candidates);
  return match === undefined ? '' : `; did you mean ${quote}${match}${quote}?`;
}
