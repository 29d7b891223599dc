/**
 * A robustness study: for a list of corruption settings, write each corrupted
 * version, score the clean and every corrupted version with the same scorer, and
 * return clean vs corrupted side by side.
 *
 * The scorer is passed in (`score(ref) -> {metric: value}`), so this module stays
 * in the corruption layer and knows no estimator or learner: the CLI (and API
 * users) plug in evaluate() from src/ope/evaluate.ts, or a learner's score.
 *
 * A setting is a trajectory corruption ({fields, mode, ...}) or a bandit-log
 * corruption ({kind, ...}); as text (CLI) it is a comma list of key=value pairs:
 *   "kind=propensity-noise,rate=0.3,scale=0.5"
 *   "field=obs+reward,mode=random,rate=0.2,scale=1,consistent=true"
 */
import { OffpolicyError, isOffpolicyError } from '../core/errors.js';
import type { DatasetVersion, Workspace } from '../datasets/workspace.js';
import { checkBanditKind, corruptBanditLog, type BanditCorruptionKind } from './bandit.js';
import { checkKind, checkRate, checkScale, checkSeed } from './params.js';
import type { Critic, TrainCriticOptions } from './critic.js';
import { checkMode, corruptTrajectories, parseFields, type CorruptionMode } from './trajectories.js';
import { VERSION } from '../version.js';
import { ROBUSTNESS_SCHEMA, type RobustnessStudyResult } from '../core/robustness-result.js';

export type CorruptionSetting =
  | { fields: string[] | 'all'; mode?: CorruptionMode; rate?: number; scale?: number; trajectoryConsistent?: boolean }
  | { kind: BanditCorruptionKind | string; rate?: number; scale?: number; decimals?: number };

export type Scorer = (ref: string) => Promise<Record<string, number>>;

export interface RobustnessStudyOptions {
  data: string;
  settings: CorruptionSetting[];
  seed: number;
  score: Scorer;
  /** Adversarial trajectory settings: the critic to attack (or trainCritic). */
  critic?: Critic;
  /** Train one critic (fitted-Q evaluation) for the first adversarial setting and reuse it: true, or training options. */
  trainCritic?: boolean | Omit<TrainCriticOptions, 'seed' | 'onProgress'>;
  /** Name of the corrupted versions (default "<data name>-robustness"). */
  name?: string;
  onProgress?: (done: number, total: number) => void;
}

const KEYS = new Set(['field', 'fields', 'mode', 'rate', 'scale', 'consistent', 'kind', 'decimals']);

/** Parses "key=value,key=value" into a setting (see the module comment). */
export function parseSetting(spec: string): CorruptionSetting {
  const kv = new Map<string, string>();
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim().toLowerCase();
    if (!KEYS.has(key)) {
      throw new OffpolicyError('E_CORRUPTION_SETTING', `Cannot read "${part}" in the corruption setting "${spec}".`, {
        hint: 'Write key=value pairs separated by commas, keys: field (obs+reward), mode, rate, scale, consistent, kind, decimals; e.g. "field=obs,mode=random,rate=0.3".',
      });
    }
    kv.set(key === 'fields' ? 'field' : key, part.slice(eq + 1).trim());
  }
  const num = (k: string): number | undefined => {
    const v = kv.get(k);
    if (v === undefined) return undefined;
    const x = Number(v);
    if (v === '' || !Number.isFinite(x)) {
      throw new OffpolicyError('E_CORRUPTION_SETTING', `${k} takes a number in "${spec}", got "${v}".`, { hint: `For example ${k}=0.3.` });
    }
    return x;
  };
  const common = { ...(num('rate') !== undefined ? { rate: num('rate')! } : {}), ...(num('scale') !== undefined ? { scale: num('scale')! } : {}) };
  if (kv.has('kind') === kv.has('field')) {
    throw new OffpolicyError('E_CORRUPTION_SETTING', `The corruption setting "${spec}" needs exactly one of field=... (trajectories) and kind=... (bandit logs).`, {
      hint: 'For example "field=obs,rate=0.3" or "kind=reward-flip,rate=0.1".',
    });
  }
  if (kv.has('kind')) return { kind: kv.get('kind')!, ...common, ...(num('decimals') !== undefined ? { decimals: num('decimals')! } : {}) };
  return {
    fields: kv.get('field')!.split('+'),
    mode: (kv.get('mode') ?? 'random') as CorruptionMode,
    ...common,
    ...(kv.has('consistent') ? { trajectoryConsistent: kv.get('consistent') === 'true' } : {}),
  };
}

/** A short label for a setting, e.g. "obs+reward random rate=0.3 scale=1". */
export function settingLabel(s: CorruptionSetting): string {
  if ('kind' in s) return `${s.kind} rate=${s.rate ?? 0.3} scale=${s.scale ?? 1}${s.decimals !== undefined ? ` decimals=${s.decimals}` : ''}`;
  const fields = s.fields === 'all' ? 'all' : s.fields.join('+');
  return `${fields} ${s.mode ?? 'random'} rate=${s.rate ?? 0.3} scale=${s.scale ?? 1}${s.trajectoryConsistent ? ' consistent' : ''}`;
}

export async function robustnessStudy(ws: Workspace, opts: RobustnessStudyOptions): Promise<RobustnessStudyResult> {
  if (opts.settings.length === 0) {
    throw new OffpolicyError('E_CORRUPTION_SETTING', 'A robustness study needs at least one corruption setting.', {
      hint: 'Pass --setting "field=obs,rate=0.3" (trajectories) or --setting "kind=reward-flip,rate=0.1" (bandit logs).',
    });
  }
  for (const s of opts.settings) {
    // Fail fast on a bad parameter, before anything is written or scored.
    checkRate(s.rate ?? 0.3, 'setting');
    checkScale(s.scale ?? 1, 'setting');
    if ('kind' in s) checkBanditKind(s.kind);
    else {
      parseFields(s.fields, 'setting');
      checkMode(s.mode ?? 'random', 'setting');
    }
  }
  checkSeed(opts.seed);
  const parent = await ws.resolve(opts.data);
  for (const s of opts.settings) checkKind(parent, 'kind' in s ? 'bandit' : 'trajectory');
  const name = opts.name ?? `${parent.name}-robustness`;
  const total = opts.settings.length + 1;
  const clean = await opts.score(parent.ref);
  opts.onProgress?.(1, total);
  const result: RobustnessStudyResult = {
    schema: ROBUSTNESS_SCHEMA,
    toolkitVersion: VERSION,
    seed: opts.seed,
    dataset: { ref: parent.ref, contentHash: parent.metadata.contentHash },
    clean: { ref: parent.ref, scores: clean },
    settings: [],
    rows: [],
  };
  let critic: Critic | undefined = opts.critic;
  for (const [idx, s] of opts.settings.entries()) {
    const label = settingLabel(s);
    let version: DatasetVersion;
    if ('kind' in s) {
      version = (await corruptBanditLog(ws, { data: parent.ref, kind: s.kind, rate: s.rate, scale: s.scale, decimals: s.decimals, seed: opts.seed, name, paramStyle: 'setting' })).version;
    } else {
      const res = await corruptTrajectories(ws, {
        data: parent.ref,
        fields: s.fields,
        mode: s.mode ?? 'random',
        rate: s.rate,
        scale: s.scale,
        trajectoryConsistent: s.trajectoryConsistent,
        seed: opts.seed,
        name,
        paramStyle: 'setting',
        ...(critic ? { critic } : opts.trainCritic ? { trainCritic: opts.trainCritic } : {}),
      });
      // A critic trained for the first adversarial setting serves the later ones too.
      if (res.trainedCritic) critic = res.trainedCritic;
      version = res.version;
    }
    let scores: Record<string, number>;
    try {
      scores = await opts.score(version.ref);
    } catch (e) {
      // The scorer may refuse a corrupted version (e.g. NULL rewards): record it, go on.
      if (!isOffpolicyError(e)) throw e;
      result.settings.push({ label, ref: version.ref, error: { code: e.code, message: e.message } });
      opts.onProgress?.(idx + 2, total);
      continue;
    }
    result.settings.push({ label, ref: version.ref });
    for (const [metric, c] of Object.entries(clean)) {
      const v = scores[metric] ?? NaN;
      result.rows.push({ setting: label, ref: version.ref, metric, clean: c, corrupted: v, delta: v - c, relativeChange: c === 0 ? NaN : (v - c) / Math.abs(c) });
    }
    opts.onProgress?.(idx + 2, total);
  }
  return result;
}
