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
