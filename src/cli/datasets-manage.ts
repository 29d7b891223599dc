import type { Command } from 'commander';

// Filled in by the work on this command group.
export function registerDatasetCommands(_parent: Command): void {}
