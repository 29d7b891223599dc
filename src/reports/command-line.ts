/** The command line as a user would retype it, for the report's reproduction block. */

/** Quotes one argument for a POSIX shell when it needs quoting. */
export function shellQuote(arg: string): string {
  if (arg === '') return "''";
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** "offpolicy <args...>", each argument quoted as needed. */
export function shellCommand(args: readonly string[], program = 'offpolicy'): string {
  return [program, ...args.map(shellQuote)].join(' ');
}

/**
 * The command that stored a dataset version, rebuilt from its lineage
 * (metadata.json): ingests record their source and options; other versions
 * say how they were made.
 */
export function ingestCommand(name: string, lineage: { transform: string; parent?: string; source?: string; params?: Record<string, unknown>; seed?: number }): string {
  const p = lineage.params ?? {};
  if (lineage.transform.startsWith('ingest:') && lineage.source) {
    const args = ['datasets', 'ingest', lineage.source, '--name', name, '--format', lineage.transform.slice('ingest:'.length)];
    if (typeof p.kind === 'string') args.push('--kind', p.kind);
    const map = p.map as Record<string, string> | undefined;
    for (const [k, v] of Object.entries(map ?? {})) args.push('--map', `${k}=${v}`);
    if (typeof p.numActions === 'number') args.push('--num-actions', String(p.numActions));
    if (p.dropInvalid === true) args.push('--drop-invalid');
    if (p.rewardNullable === true) args.push('--reward-nullable');
    return shellCommand(args);
  }
  const from = lineage.parent ? ` from ${lineage.parent}` : '';
  const seed = lineage.seed !== undefined ? `, seed ${lineage.seed}` : '';
  return `# ${name} was made by ${lineage.transform}${from}${seed}; parameters: ${JSON.stringify(p)}`;
}
