/** Looks environments up by id ("Pendulum-v1") or short alias ("pendulum"), case-insensitively. */
import { OffpolicyError } from '../core/errors.js';
import { cartPole } from './cartpole.js';
import { mountainCarContinuous } from './mountain-car.js';
import { pendulum } from './pendulum.js';
import { pointMaze } from './point-maze.js';
import type { Env } from './types.js';

export const ENVS: readonly Env[] = [pendulum, mountainCarContinuous, cartPole, pointMaze];

/** Short names accepted by getEnv and the CLI's --env flag. */
export const ENV_ALIASES: Readonly<Record<string, string>> = {
  pendulum: 'Pendulum-v1',
  'mountain-car': 'MountainCarContinuous-v0',
  mountaincar: 'MountainCarContinuous-v0',
  cartpole: 'CartPole-v1',
  maze: 'PointMaze-U-v0',
  'point-maze': 'PointMaze-U-v0',
};

export function envIds(): string[] {
  return ENVS.map((e) => e.id);
}

export function getEnv(id: string): Env {
  const key = id.trim().toLowerCase();
  const target = (ENV_ALIASES[key] ?? id).toLowerCase();
  const env = ENVS.find((e) => e.id.toLowerCase() === target);
  if (!env) {
    throw new OffpolicyError('E_UNKNOWN_ENV', `Unknown environment "${id}".`, {
      hint: `Known environments: ${envIds().join(', ')} (aliases: ${Object.keys(ENV_ALIASES).join(', ')}).`,
    });
  }
  return env;
}
