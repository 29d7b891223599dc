/** Paths where a and b differ: numbers beyond tol * max(1, |a|), anything else unequal. */
export function differences(a: unknown, b: unknown, tol: number, at = '$', out: string[] = []): string[] {
  if (typeof a === 'number' && typeof b === 'number') {
    const same = Number.isNaN(a) ? Number.isNaN(b) : a === b || Math.abs(a - b) <= tol * Math.max(1, Math.abs(a));
    if (!same) out.push(`${at}: ${a} vs ${b}`);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.push(`${at}: length ${a.length} vs ${b.length}`);
    else a.forEach((x, i) => differences(x, b[i], tol, `${at}[${i}]`, out));
  } else if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) out.push(`${at}: keys ${ka.join()} vs ${kb.join()}`);
    else for (const key of ka) differences((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], tol, `${at}.${key}`, out);
  } else if (a !== b) out.push(`${at}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  return out;
}
