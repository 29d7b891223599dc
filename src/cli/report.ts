import type { Command } from 'commander';

// Filled in by the work on this command.
export function registerReport(_program: Command): void {}
