/**
 * The command-line entry point. It parses flags, calls the library and prints;
 * every computation lives in the library (src/index.ts re-exports it).
 * Command modules import the library inside their actions (dynamic import), so
 * start-up loads only commander and what the command run needs.
 */
import { Command, CommanderError } from 'commander';
import { isOffpolicyError } from './core/errors.js';
import { codedError } from './datasets/fs-guard.js';
import { VERSION } from './version.js';
import { registerIngest } from './cli/datasets-ingest.js';
import { registerDatasetCommands } from './cli/datasets-manage.js';
import { registerGenerate } from './cli/generate.js';
import { registerCorrupt } from './cli/corrupt.js';
import { registerEvaluate } from './cli/evaluate.js';
import { registerReport } from './cli/report.js';
import { registerDemo } from './cli/demo.js';
import { registerTrain } from './cli/train.js';
import { registerRollout } from './cli/rollout.js';
import { registerLearn } from './cli/learn.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('offpolicy')
    .description('Offline dataset management and off-policy evaluation')
    .version(VERSION)
    .option('-w, --workspace <dir>', 'workspace directory (default: $OFFPOLICY_HOME or ./.offpolicy)')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError();
  const datasets = program.command('datasets').description('store, inspect, query, split and export datasets');
  registerIngest(datasets);
  registerDatasetCommands(datasets);
  registerGenerate(program);
  registerCorrupt(program);
  registerEvaluate(program);
  registerReport(program);
  registerDemo(program);
  registerTrain(program);
  registerRollout(program);
  registerLearn(program);
  return program;
}

let pipeHandlerInstalled = false;

export async function main(argv: string[]): Promise<void> {
  // `offpolicy ... | head` closes the pipe early: stop quietly instead of crashing on EPIPE.
  // Installed once per process (tests call main many times).
  if (!pipeHandlerInstalled) {
    pipeHandlerInstalled = true;
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
  const program = buildProgram();
  // Every command throws its usage errors here (subcommands do not inherit exitOverride once created).
  const override = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Usage errors (unknown option or command, missing argument or value) exit 2 like every coded error; --help and --version exit 0.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    const verbose = argv.includes('--verbose');
    // Filesystem and lock failures get a code too (E_PERMISSION, E_WORKSPACE_BUSY, ...).
    e = codedError(e) ?? e;
    if (isOffpolicyError(e)) {
      process.stderr.write(`error [${e.code}]: ${e.message}\n`);
      if (verbose && e.stack) process.stderr.write(e.stack + '\n');
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
    if (verbose && (e as Error).stack) process.stderr.write((e as Error).stack + '\n');
    else process.stderr.write('(run with --verbose for the stack trace)\n');
    process.exitCode = 1;
  }
}
