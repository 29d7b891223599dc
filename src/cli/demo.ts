import type { Command } from 'commander';

// Filled in by the work on this command.
export function registerDemo(_program: Command): void {}
