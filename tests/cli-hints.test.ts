/**
 * Issue 15 item 4: an error suggests only flags the command that printed it
 * has. Each case triggers a coded error through one command; every --flag in
 * what it prints (the error line, and robustness's "not scored" lines) must be
 * an option of that command in the program definition (or a global one).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli.js';
import { runCli } from './support/run-cli.js';

let dir: string;
let wsDir: string;
const run = (args: string[]): ReturnType<typeof runCli> => runCli(['-w', wsDir, ...args]);

/** Long option names of a command (by its path of names), with the program's global ones and --help. */
function optionsOf(names: string[]): Set<string> {
  const program = buildProgram();
  let cmd: Command = program;
  for (const n of names) cmd = cmd.commands.find((c) => c.name() === n)!;
  expect(cmd, names.join(' ')).toBeDefined();
  return new Set([...cmd.options, ...program.options].map((o) => o.long!).concat('--help'));
}

/** The --flags a piece of text suggests. */
function flagsIn(text: string): string[] {
  return [...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-hints-'));
  wsDir = path.join(dir, 'ws');
  const setup: string[][] = [
    ['generate', 'bandit', '--name', 'logs', '--rows', '300', '--actions', '3', '--context-dim', '2', '--reward', 'logistic', '--beta', '1', '--seed', '1'],
    ['generate', 'bandit', '--name', 'lin', '--rows', '300', '--actions', '3', '--context-dim', '2', '--reward', 'linear', '--beta', '1', '--seed', '1'],
    ['generate', 'bandit', '--name', 'def', '--rows', '300', '--actions', '3', '--context-dim', '2', '--reward', 'logistic', '--beta', '1', '--deficient-support', '1', '--seed', '1'],
    ['corrupt-log', '--data', 'logs', '--kind', 'drop-rewards', '--rate', '0.2', '--name', 'nulls'],
    ['generate', 'trajectories', '--name', 'pend', '--env', 'pendulum', '--policy', 'random', '--episodes', '2', '--seed', '0'],
    ['train', 'bc', '--data', 'logs', '--steps', '2', '--seed', '0', '--eval-episodes', '0', '--out', path.join(dir, 'run')],
  ];
  for (const args of setup) {
    const r = await run(args);
    expect(r.code, r.err).toBe(0);
  }
  await writeFile(path.join(dir, 'u.json'), JSON.stringify({ type: 'uniform' }));
  await writeFile(path.join(dir, 'odd.csv'), 'row_id,a,b,c\n' + Array.from({ length: 300 }, (_, i) => `${i},0.2,0.3,0.5`).join('\n') + '\n');
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const out = (): string => path.join(dir, 'r.json');
const u = (): string => path.join(dir, 'u.json');

// [command path, arguments after it, the error code it must print]
const CASES: [string[], () => string[], string][] = [
  [['evaluate'], () => ['--data', 'nulls', '--policy', 'column:action_probs', '--interval', 't', '--estimators', 'ips', '--out', out()], 'E_NULL_REWARDS'],
  [['evaluate'], () => ['--data', 'lin', '--policy', 'column:action_probs', '--interval', 't', '--reward-model', 'logistic', '--estimators', 'dm', '--out', out()], 'E_REWARD_MODEL_FIT'],
  [['evaluate'], () => ['--data', 'def', '--policy', u(), '--interval', 't', '--estimators', 'ips', '--out', out()], 'E_SUPPORT_DEFICIENT'],
  [['evaluate'], () => ['--data', 'logs', '--policy', 'column:action_probs', '--alpha', '2', '--out', out()], 'E_ALPHA'],
  [['evaluate'], () => ['--data', 'logs', '--policy', 'column:action_probs', '--reward-range', '1,0', '--out', out()], 'E_RANGE'],
  [['evaluate'], () => ['--data', 'logs', '--policy', 'column:action_probs', '--interval', 't', '--clip', '-1', '--out', out()], 'E_ESTIMATOR_PARAM'],
  [['evaluate'], () => ['--data', 'logs', '--policy', 'column:action_probs', '--resamples', '0', '--out', out()], 'E_LIMIT_RESAMPLES'],
  [['evaluate'], () => ['--data', 'logs', '--policy', u(), '--policy', u(), '--out', out()], 'E_POLICY_NAME'],
  [['evaluate'], () => ['--data', 'logs', '--policy', path.join(dir, 'odd.csv'), '--out', out()], 'E_POLICY_SPEC'],
  [['robustness'], () => ['--data', 'nulls', '--policy', 'column:action_probs', '--estimators', 'ips', '--setting', 'kind=reward-noise'], 'E_NULL_REWARDS'],
  [['robustness'], () => ['--data', 'logs', '--policy', 'column:action_probs', '--estimators', 'ips', '--setting', 'kind=drop-rewards'], 'E_NULL_REWARDS'],
  [['robustness'], () => ['--data', 'lin', '--policy', 'column:action_probs', '--reward-model', 'logistic', '--estimators', 'dm', '--setting', 'kind=reward-noise'], 'E_REWARD_MODEL_FIT'],
  [['robustness'], () => ['--data', 'def', '--policy', u(), '--estimators', 'ips', '--setting', 'kind=reward-noise'], 'E_SUPPORT_DEFICIENT'],
  [['robustness'], () => ['--data', 'logs', '--policy', 'column:action_probs', '--setting', 'kind=propensity-round,decimals=20'], 'E_CORRUPTION_PARAM'],
  [['robustness'], () => ['--data', 'logs', '--policy', 'column:action_probs', '--setting', 'kind=reward-noise,rate=2'], 'E_CORRUPTION_RATE'],
  [['robustness'], () => ['--data', 'logs', '--policy', 'column:action_probs', '--setting', 'kind=reward-noise,scale=0'], 'E_CORRUPTION_SCALE'],
  [['robustness'], () => ['--data', 'lin', '--policy', 'column:action_probs', '--setting', 'kind=reward-flip'], 'E_REWARD_NOT_BINARY'],
  [['robustness'], () => ['--data', 'pend', '--policy', u(), '--setting', 'field=obs,mode=sideways'], 'E_CORRUPTION_MODE'],
  [['robustness'], () => ['--data', 'pend', '--policy', u(), '--setting', 'field=,rate=0.1'], 'E_CORRUPTION_FIELD'],
  [['corrupt-log'], () => ['--data', 'logs', '--kind', 'reward-noise', '--rate', '2'], 'E_CORRUPTION_RATE'],
  [['corrupt-log'], () => ['--data', 'logs', '--kind', 'propensity-round', '--decimals', '20'], 'E_CORRUPTION_PARAM'],
  [['corrupt-log'], () => ['--data', 'lin', '--kind', 'reward-flip'], 'E_REWARD_NOT_BINARY'],
  [['corrupt'], () => ['--data', 'pend', '--field', 'obs', '--mode', 'adversarial'], 'E_CRITIC_REQUIRED'],
  [['corrupt'], () => ['--data', 'pend', '--field', 'obs', '--mode', 'sideways'], 'E_CORRUPTION_MODE'],
  [['corrupt'], () => ['--data', 'pend', '--field', 'obs', '--scale', '0'], 'E_CORRUPTION_SCALE'],
  [['corrupt'], () => ['--data', 'pend'], 'E_CORRUPTION_FIELD'],
  [['learn'], () => ['--data', 'nulls', '--objective', 'catoni', '--policy-class', 'softmax', '--out', path.join(dir, 'learned')], 'E_NULL_REWARDS'],
  [['learn'], () => ['--data', 'logs', '--objective', 'catoni', '--policy-class', 'softmax', '--reward-range', '1,0', '--out', path.join(dir, 'learned')], 'E_RANGE'],
  [['train'], () => ['bc', '--data', 'nulls', '--steps', '2', '--seed', '0', '--out', path.join(dir, 'run2')], 'E_NULL_REWARDS'],
  [['rollout'], () => ['--policy', path.join(dir, 'run'), '--episodes', '1'], 'E_UNKNOWN_ENV'],
];

describe('every flag an error suggests is an option of the command that printed it', () => {
  it.each(CASES.map(([cmd, args, code]) => [`${cmd.join(' ')} -> ${code}`, cmd, args, code] as const))('%s', async (_label, cmd, args, code) => {
    const r = await run([...cmd, ...args()]);
    const printed = `${r.err}\n${r.out}`;
    const lines = printed.split('\n').filter((l) => l.includes(`[${code}]`));
    expect(lines.length, printed).toBeGreaterThan(0);
    const options = optionsOf(cmd);
    const unknown = lines.flatMap(flagsIn).filter((f) => !options.has(f));
    expect(unknown, lines.join('\n')).toEqual([]);
  });
});
