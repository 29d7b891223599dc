/**
 * Minari dataset directories -> a staged trajectory table.
 *
 * On-disk layout (Minari's MinariStorage and its arrow / parquet / hdf5
 * storages). The data directory holds `metadata.json`, whose keys include
 * data_format ("arrow" | "parquet" | "hdf5"), total_episodes, total_steps,
 * observation_space and action_space (JSON strings such as
 * {"type": "Box", "dtype": "float32", "shape": [17], "low": [...], "high": [...]}
 * or {"type": "Discrete", "dtype": "int64", "start": 0, "n": 4}), and, when the
 * author set them, dataset_id, env_spec (a JSON string with the env "id"),
 * ref_min_score and ref_max_score. Python writes infinite bounds as the bare
 * tokens Infinity / -Infinity, which are read here too.
 *   - arrow / parquet: one directory per episode, named by its id ("0", "1",
 *     ...; pyarrow directory partitioning on episode_id, so the id is not a
 *     column), holding part-0.arrow (Arrow IPC file) or part-0.parquet and the
 *     episode's metadata.json. Each file has N + 1 rows for an episode of N
 *     steps: observations carries the final observation in the last row, and
 *     actions, rewards, terminations, truncations are padded with zeros there.
 *   - hdf5: main_data.hdf5 with one group episode_<id> per episode holding
 *     observations [N + 1, ...], actions [N, ...], rewards, terminations,
 *     truncations [N].
 * The directory given may be that data directory or the dataset directory
 * that contains it as `data/`.
 *
 * Each step t < N becomes a row: observation = observations[t],
 * next_observation = observations[t + 1], action / reward / terminated /
 * truncated from row t. `_row` numbers the steps in episode order (episode id,
 * then step). Box spaces only for observations; Box or Discrete actions
 * (Discrete(n, start) actions are stored as a - start, so 0..n-1). Dict, Tuple,
 * Text and image spaces are refused; infos are not read.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { OffpolicyError } from '../../core/errors.js';
import { ident, lit, queryOne, type DuckDBConnection } from '../duckdb.js';
import { arraysToTable, type ArrayColumn } from '../from-arrays.js';
import type { MetadataInput, Space } from '../metadata.js';
import { openHdf5, readD4rlArray, type D4rlArray } from './hdf5.js';
import { stageArrow } from './read-arrow.js';

const METADATA_FILE = 'metadata.json';
const HDF5_FILE = 'main_data.hdf5';

interface MinariSpace {
  type: string;
  dtype?: string;
  shape?: number[];
  low?: (number | null)[];
  high?: (number | null)[];
  n?: number;
  start?: number;
}

/** JSON.parse that also accepts Python's bare NaN / Infinity / -Infinity tokens outside strings. */
export function parsePythonJson(text: string): unknown {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
    } else if (text.startsWith('-Infinity', i)) {
      out += '"-Infinity"';
      i += 8;
    } else if (text.startsWith('Infinity', i)) {
      out += '"Infinity"';
      i += 7;
    } else if (text.startsWith('NaN', i)) {
      out += '"NaN"';
      i += 2;
    } else {
      out += ch;
    }
  }
  return JSON.parse(out, (_k, v: unknown) =>
    v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === 'NaN' ? NaN : v,
  );
}

function badMetadata(file: string, what: string): OffpolicyError {
  return new OffpolicyError('E_MINARI_METADATA', `${file}: ${what}.`, {
    hint: 'A Minari data directory holds the metadata.json written by Minari (data_format, total_episodes, total_steps, observation_space, action_space).',
  });
}

function parseSpace(value: unknown, key: string, file: string): MinariSpace {
  let v = value;
  try {
    if (typeof v === 'string') v = parsePythonJson(v);
  } catch {
    throw badMetadata(file, `"${key}" is not valid JSON`);
  }
  if (!v || typeof v !== 'object' || typeof (v as MinariSpace).type !== 'string') {
    throw badMetadata(file, `"${key}" is missing or is not a serialized Gymnasium space`);
  }
  return v as MinariSpace;
}

function unsupported(space: MinariSpace, key: string): OffpolicyError {
  return new OffpolicyError('E_UNSUPPORTED_SPACE', `The Minari ${key} is a ${space.type} space; only Box${key === 'action_space' ? ' and Discrete' : ''} spaces can be ingested.`, {
    hint: 'Flatten the space (e.g. gymnasium.wrappers.FlattenObservation) and re-create the dataset, or export the steps you need to Parquet.',
  });
}

function boxSpace(s: MinariSpace): Space {
  const finite = (xs?: (number | null)[]) =>
    xs && xs.every((x) => typeof x === 'number' && Number.isFinite(x)) ? (xs as number[]) : undefined;
  const flat = (xs?: unknown) => (Array.isArray(xs) ? (xs.flat(Infinity) as (number | null)[]) : undefined);
  const low = finite(flat(s.low));
  const high = finite(flat(s.high));
  return { type: 'box', shape: s.shape ?? [], ...(low ? { low } : {}), ...(high ? { high } : {}) };
}

/** Finds the directory holding Minari's metadata.json. */
function dataDir(dir: string): string {
  if (existsSync(path.join(dir, METADATA_FILE))) return dir;
  if (existsSync(path.join(dir, 'data', METADATA_FILE))) return path.join(dir, 'data');
  throw new OffpolicyError('E_MINARI_LAYOUT', `${dir} is not a Minari dataset directory: it has no metadata.json (nor data/metadata.json).`, {
    hint: 'Pass the dataset directory (e.g. ~/.minari/datasets/mujoco/hopper/medium-v0) or its data/ directory.',
  });
}

async function episodeDirs(dir: string): Promise<{ id: number; dir: string }[]> {
  const out: { id: number; dir: string }[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory() && /^\d+$/.test(e.name)) out.push({ id: Number(e.name), dir: path.join(dir, e.name) });
  }
  return out.sort((a, b) => a.id - b.id);
}

async function episodeFiles(ep: { id: number; dir: string }, ext: string): Promise<string[]> {
  const files = (await readdir(ep.dir))
    .filter((f) => !f.startsWith('_') && !f.startsWith('.') && f !== METADATA_FILE && f.endsWith(ext))
    .sort()
    .map((f) => path.join(ep.dir, f));
  if (files.length === 0) {
    throw new OffpolicyError('E_MINARI_LAYOUT', `Episode directory ${ep.dir} holds no ${ext} file.`, {
      hint: 'Each episode directory of a Minari arrow / parquet dataset holds its data as part-0' + ext + '.',
    });
  }
  return files;
}

/**
 * Builds the raw table `raw` (episode_id, t, observations, actions, rewards,
 * terminations, truncations; N + 1 rows per episode) from the arrow backend.
 */
async function rawFromArrow(conn: DuckDBConnection, dir: string, raw: string): Promise<void> {
  const eps = await episodeDirs(dir);
  const tmp = `${raw}__episode`;
  let first = true;
  for (const ep of eps) {
    for (const file of await episodeFiles(ep, '.arrow')) {
      await stageArrow(conn, file, tmp);
      checkRawColumns(await columnsOf(conn, tmp), file);
      const select = `SELECT ${ep.id}::BIGINT AS episode_id, (row_number() OVER () - 1)::INTEGER AS t,
          observations, actions, rewards::DOUBLE AS rewards, terminations::BOOLEAN AS terminations, truncations::BOOLEAN AS truncations
        FROM ${ident(tmp)}`;
      if (first) await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(raw)} AS ${select}`);
      else await conn.run(`INSERT INTO ${ident(raw)} ${select}`);
      first = false;
    }
  }
  if (first) throw noEpisodes(dir);
  await conn.run(`DROP TABLE IF EXISTS ${ident(tmp)}`);
}

async function rawFromParquet(conn: DuckDBConnection, dir: string, raw: string): Promise<void> {
  const eps = await episodeDirs(dir);
  if (eps.length === 0) throw noEpisodes(dir);
  const files: string[] = [];
  const ids: number[] = [];
  for (const ep of eps) {
    for (const f of await episodeFiles(ep, '.parquet')) {
      files.push(f);
      ids.push(ep.id);
    }
  }
  const scan = `read_parquet([${files.map(lit).join(', ')}], filename = true, file_row_number = true)`;
  const found = await columnsOf(conn, `SELECT * EXCLUDE (filename, file_row_number) FROM ${scan}`, true);
  checkRawColumns(found, files[0]!);
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(`${raw}__files`)} AS
    SELECT unnest(${'[' + files.map(lit).join(', ') + ']'}) AS filename, unnest([${ids.join(', ')}])::BIGINT AS episode_id`);
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(raw)} AS
    SELECT f.episode_id,
      (row_number() OVER (PARTITION BY f.episode_id ORDER BY p.filename, p.file_row_number) - 1)::INTEGER AS t,
      p.observations, p.actions, p.rewards::DOUBLE AS rewards, p.terminations::BOOLEAN AS terminations, p.truncations::BOOLEAN AS truncations
    FROM ${scan} p JOIN ${ident(`${raw}__files`)} f ON p.filename = f.filename`);
  await conn.run(`DROP TABLE ${ident(`${raw}__files`)}`);
}

async function rawFromHdf5(conn: DuckDBConnection, dir: string, raw: string, discrete: boolean): Promise<void> {
  const file = path.join(dir, HDF5_FILE);
  if (!existsSync(file)) {
    throw new OffpolicyError('E_MINARI_LAYOUT', `${dir} says data_format "hdf5" but has no ${HDF5_FILE}.`, {
      hint: 'Copy the whole Minari data directory.',
    });
  }
  const f = await openHdf5(file);
  try {
    const groups = f
      .keys()
      .filter((k) => /^episode_\d+$/.test(k))
      .map((k) => ({ key: k, id: Number(k.slice('episode_'.length)) }))
      .sort((a, b) => a.id - b.id);
    if (groups.length === 0) throw noEpisodes(dir);
    const parts: { id: number; obs: D4rlArray; act: D4rlArray; rew: D4rlArray; term: D4rlArray; trunc: D4rlArray }[] = [];
    for (const g of groups) {
      const get = (name: string) => {
        const a = readD4rlArray(f, `${g.key}/${name}`, file);
        if (!a) {
          throw new OffpolicyError('E_MISSING_COLUMN', `Group ${g.key} of ${file} has no "${name}" dataset.`, {
            hint: 'Each Minari episode group holds observations, actions, rewards, terminations and truncations.',
          });
        }
        return a;
      };
      const p = { id: g.id, obs: get('observations'), act: get('actions'), rew: get('rewards'), term: get('terminations'), trunc: get('truncations') };
      const steps = p.rew.rows;
      if (p.obs.rows !== steps + 1 || p.act.rows !== steps || p.term.rows !== steps || p.trunc.rows !== steps) {
        throw new OffpolicyError(
          'E_LENGTH_MISMATCH',
          `Episode ${g.id} of ${file} has ${p.obs.rows} observations, ${p.act.rows} actions, ${steps} rewards, ${p.term.rows} terminations and ${p.trunc.rows} truncations.`,
          { hint: 'A Minari episode of N steps has N + 1 observations and N of everything else.' },
        );
      }
      parts.push(p);
    }
    const obsW = parts[0]!.obs.width;
    const actW = parts[0]!.act.width;
    let total = 0;
    for (const p of parts) {
      if (p.obs.width !== obsW || p.act.width !== actW) {
        throw new OffpolicyError('E_RAGGED_VECTOR', `Episode ${p.id} of ${file} has observations of width ${p.obs.width} and actions of width ${p.act.width}; episode ${parts[0]!.id} has ${obsW} and ${actW}.`, {
          hint: 'Every episode of a dataset must share its observation and action shapes.',
        });
      }
      total += p.obs.rows;
    }
    // N + 1 rows per episode, as in the arrow layout: the last row pads action, reward and flags.
    const episodeId = new Float64Array(total);
    const t = new Int32Array(total);
    const obs = new Float32Array(total * obsW);
    const act = discrete ? new Int32Array(total) : new Float32Array(total * actW);
    const rew = new Float64Array(total);
    const term = new Uint8Array(total);
    const trunc = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      const steps = p.rew.rows;
      for (let i = 0; i <= steps; i++) {
        episodeId[at + i] = p.id;
        t[at + i] = i;
      }
      setNumbers(obs, p.obs.data, at * obsW);
      setNumbers(act, p.act.data, at * (discrete ? 1 : actW));
      setNumbers(rew, p.rew.data, at);
      setNumbers(term, p.term.data, at);
      setNumbers(trunc, p.trunc.data, at);
      at += steps + 1;
    }
    const columns: ArrayColumn[] = [
      { name: 'episode_id', type: 'BIGINT', data: episodeId },
      { name: 't', type: 'INTEGER', data: t },
      { name: 'observations', type: 'FLOAT', data: obs, width: obsW },
      discrete ? { name: 'actions', type: 'INTEGER', data: act } : { name: 'actions', type: 'FLOAT', data: act, width: actW },
      { name: 'rewards', type: 'DOUBLE', data: rew },
      { name: 'terminations', type: 'BOOLEAN', data: term },
      { name: 'truncations', type: 'BOOLEAN', data: trunc },
    ];
    // Width-1 vectors land as scalars here; stageMinari wraps them back into lists.
    await arraysToTable(conn, raw, total, columns, { temp: true });
  } finally {
    f.close();
  }
}

function setNumbers(out: Float32Array | Float64Array | Int32Array | Uint8Array, src: D4rlArray['data'], offset: number): void {
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) {
    for (let i = 0; i < src.length; i++) out[offset + i] = Number(src[i]!);
  } else {
    out.set(src as Float64Array, offset);
  }
}

function noEpisodes(dir: string): OffpolicyError {
  return new OffpolicyError('E_EMPTY_INPUT', `The Minari dataset in ${dir} holds no episodes.`, {
    hint: 'Check that the episode directories (0/, 1/, ...) or main_data.hdf5 were copied with metadata.json.',
  });
}

async function columnsOf(conn: DuckDBConnection, tableOrSelect: string, isSelect = false): Promise<Map<string, string>> {
  const reader = await conn.runAndReadAll(`DESCRIBE ${isSelect ? tableOrSelect : ident(tableOrSelect)}`);
  const rows = reader.getRowObjectsJson() as { column_name: string; column_type: string }[];
  return new Map(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}

function checkRawColumns(cols: Map<string, string>, file: string): void {
  const need = ['observations', 'actions', 'rewards', 'terminations', 'truncations'];
  const missing = need.filter((c) => !cols.has(c));
  if (missing.length > 0) {
    throw new OffpolicyError('E_MISSING_COLUMN', `${file} has no ${missing.map((m) => `"${m}"`).join(', ')} column${missing.length > 1 ? 's' : ''}.`, {
      hint: `A Minari episode file holds observations, actions, rewards, terminations and truncations; found: ${[...cols.keys()].join(', ')}.`,
    });
  }
  const obs = cols.get('observations')!;
  if (obs.startsWith('STRUCT') || obs.startsWith('MAP')) {
    throw new OffpolicyError('E_UNSUPPORTED_SPACE', `${file} stores observations as ${obs}; only Box observation spaces can be ingested.`, {
      hint: 'Flatten the observation space and re-create the dataset.',
    });
  }
}

/**
 * Reads the Minari dataset in `dir` into the staged DuckDB table `table`
 * (canonical trajectory columns plus `_row`), and returns its metadata.
 */
export async function stageMinari(conn: DuckDBConnection, dir: string, table: string): Promise<{ metadata: Partial<MetadataInput> }> {
  if (!existsSync(dir) || !(await stat(dir)).isDirectory()) {
    throw new OffpolicyError('E_FILE_NOT_FOUND', `${dir} is not a directory.`, {
      hint: 'Pass a Minari dataset directory (the one holding data/metadata.json).',
    });
  }
  const data = dataDir(dir);
  const metaFile = path.join(data, METADATA_FILE);
  let meta: Record<string, unknown>;
  try {
    meta = parsePythonJson(await readFile(metaFile, 'utf8')) as Record<string, unknown>;
  } catch {
    throw badMetadata(metaFile, 'the file is not valid JSON');
  }
  if (!meta || typeof meta !== 'object') throw badMetadata(metaFile, 'the file does not hold a JSON object');
  const format = meta.data_format;
  if (format !== 'arrow' && format !== 'parquet' && format !== 'hdf5') {
    throw new OffpolicyError('E_MINARI_FORMAT', `${metaFile} says data_format ${JSON.stringify(format)}; arrow, parquet and hdf5 are supported.`, {
      hint: 'Re-save the dataset with one of those Minari storage formats.',
    });
  }
  const obsSpace = parseSpace(meta.observation_space, 'observation_space', metaFile);
  const actSpace = parseSpace(meta.action_space, 'action_space', metaFile);
  if (obsSpace.type !== 'Box') throw unsupported(obsSpace, 'observation_space');
  if (actSpace.type !== 'Box' && actSpace.type !== 'Discrete') throw unsupported(actSpace, 'action_space');
  const discrete = actSpace.type === 'Discrete';
  const start = discrete ? (actSpace.start ?? 0) : 0;

  const raw = `${table}__minari`;
  if (format === 'arrow') await rawFromArrow(conn, data, raw);
  else if (format === 'parquet') await rawFromParquet(conn, data, raw);
  else await rawFromHdf5(conn, data, raw, discrete);

  const rawCols = await columnsOf(conn, raw);
  const vector = (col: string, type: string | undefined) =>
    type && (type.endsWith(']')) ? `${col}::FLOAT[]` : `[${col}]::FLOAT[]`;
  const obsExpr = vector('observations', rawCols.get('observations'));
  const actExpr = discrete ? `(actions - ${start})::INTEGER` : vector('actions', rawCols.get('actions'));
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(table)} AS
    SELECT episode_id, step, observation, next_observation, action, reward, terminated, truncated,
      (row_number() OVER (ORDER BY episode_id, step) - 1)::BIGINT AS _row
    FROM (
      SELECT episode_id::BIGINT AS episode_id, t AS step,
        ${obsExpr} AS observation,
        lead(${obsExpr}) OVER (PARTITION BY episode_id ORDER BY t) AS next_observation,
        ${actExpr} AS action,
        rewards::DOUBLE AS reward, terminations::BOOLEAN AS terminated, truncations::BOOLEAN AS truncated,
        count(*) OVER (PARTITION BY episode_id) AS _n
      FROM ${ident(raw)}
    )
    WHERE step < _n - 1
    ORDER BY episode_id, step`);
  await conn.run(`DROP TABLE ${ident(raw)}`);

  // The metadata's counts must match the episodes found.
  const counts = await queryOne(conn, `SELECT count(*) AS steps, count(DISTINCT episode_id) AS episodes FROM ${ident(table)}`);
  const steps = Number(counts.steps);
  const episodes = Number(counts.episodes);
  for (const [key, found] of [
    ['total_steps', steps],
    ['total_episodes', episodes],
  ] as const) {
    if (typeof meta[key] === 'number' && meta[key] !== found) {
      throw new OffpolicyError('E_MINARI_METADATA', `${metaFile} says ${key} is ${meta[key] as number}, but the episode data hold ${found}.`, {
        hint: 'Some episode files are missing or extra; copy the whole Minari data directory again.',
      });
    }
  }

  const metadata: Partial<MetadataInput> = {
    kind: 'trajectory',
    observationSpace: boxSpace(obsSpace),
    actionSpace: discrete ? { type: 'discrete', n: Number(actSpace.n) } : boxSpace(actSpace),
  };
  const envSpec = meta.env_spec;
  if (typeof envSpec === 'string') {
    try {
      const id = (parsePythonJson(envSpec) as { id?: unknown }).id;
      if (typeof id === 'string') metadata.envId = id;
    } catch {
      // An unreadable env_spec only loses the env id.
    }
  }
  if (typeof meta.ref_min_score === 'number' && Number.isFinite(meta.ref_min_score)) metadata.refMinScore = meta.ref_min_score;
  if (typeof meta.ref_max_score === 'number' && Number.isFinite(meta.ref_max_score)) metadata.refMaxScore = meta.ref_max_score;
  const extra: Record<string, unknown> = { minariDataFormat: format };
  if (typeof meta.dataset_id === 'string') extra.minariDatasetId = meta.dataset_id;
  if (start !== 0) extra.minariActionStart = start;
  metadata.extra = extra;
  return { metadata };
}
