import type { Command } from 'commander';

// Filled in by the work on this command.
export function registerEvaluate(_program: Command): void {}
