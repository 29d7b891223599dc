/**
 * One entry for every policy directory the learners write: reads policy.json,
 * and returns a CategoricalMlpPolicy for kind "categorical" (the discrete
 * learners) or the MlpPolicy of ../policy.ts for "deterministic" / "gaussian"
 * (the continuous ones). loadDiscretePolicyDir is the form the OPE candidate
 * loader takes (a bandit log needs a policy over its K actions).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OffpolicyError } from '../../core/errors.js';
import { loadPolicy, type MlpPolicy } from '../policy.js';
import { categoricalFromJson, type CategoricalMlpPolicy, type CategoricalPolicyJson } from './categorical-policy.js';

export type LoadedPolicy = CategoricalMlpPolicy | MlpPolicy;

/**
 * The policy directory `dir` names: itself when it holds policy.json, else the
 * policy/ folder of a training run directory (train --out DIR writes DIR/policy).
 */
export function resolvePolicyDir(dir: string): string {
  if (!existsSync(join(dir, 'policy.json')) && existsSync(join(dir, 'policy', 'policy.json'))) return join(dir, 'policy');
  return dir;
}

/** Reads and checks `dir`/policy.json (E_POLICY_NOT_FOUND, E_POLICY_FORMAT); `dir` may be a run directory (resolvePolicyDir). */
export async function readPolicyJson(dir: string): Promise<Record<string, unknown>> {
  const file = join(resolvePolicyDir(dir), 'policy.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new OffpolicyError('E_POLICY_NOT_FOUND', `No policy.json in ${dir}.`, { hint: `Nor in ${join(dir, 'policy')}: pass a training run directory (train --out DIR) or the policy/ folder inside it.` });
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new OffpolicyError('E_POLICY_FORMAT', `${file} is not valid JSON.`, { hint: 'Export the policy again.' });
  }
  const o = (j ?? {}) as Record<string, unknown>;
  if (typeof j !== 'object' || o.format !== 'offpolicy-policy' || o.formatVersion !== 1) {
    throw new OffpolicyError('E_POLICY_FORMAT', `${file} is not an offpolicy policy (format ${String(o.format)}, version ${String(o.formatVersion)}).`, {
      hint: 'Pass a directory written by offpolicy training (format "offpolicy-policy", version 1).',
    });
  }
  return o;
}

/** Loads whichever kind of policy `dir` holds. */
export async function loadPolicyDir(runOrPolicyDir: string): Promise<LoadedPolicy> {
  const dir = resolvePolicyDir(runOrPolicyDir);
  const j = await readPolicyJson(dir);
  if (j.kind === 'categorical') return categoricalFromJson(j as unknown as CategoricalPolicyJson, dir);
  if (j.kind === 'deterministic' || j.kind === 'gaussian') return loadPolicy(dir);
  throw new OffpolicyError('E_POLICY_FORMAT', `${join(dir, 'policy.json')} has an unknown policy kind ${JSON.stringify(j.kind)}.`, {
    hint: 'Known kinds: categorical (discrete actions), deterministic and gaussian (continuous actions). Export the policy again with this version of offpolicy.',
  });
}

/** Loads a discrete (categorical) policy directory; a continuous policy fails with E_POLICY_KIND. */
export async function loadDiscretePolicyDir(dir: string): Promise<CategoricalMlpPolicy> {
  const p = await loadPolicyDir(dir);
  if (p.kind !== 'categorical') {
    throw new OffpolicyError('E_POLICY_KIND', `The policy in ${dir} (${p.algo}) outputs ${p.actionDim}-dimensional continuous actions, not probabilities over discrete actions.`, {
      hint: 'Score it on trajectory data or in its environment; a bandit log needs a policy trained on discrete actions (e.g. offpolicy train bc on a bandit log or CartPole data).',
    });
  }
  return p;
}
