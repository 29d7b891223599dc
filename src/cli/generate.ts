import type { Command } from 'commander';

// Filled in by the work on this command group.
export function registerGenerate(_parent: Command): void {}
