/**
 * Evaluation where the log lives: a two-shard local ClickHouse cluster
 * (scripts/clickhouse-cluster.sh) holding N rows (default 10M, half per shard,
 * generated in SQL), a Distributed table over them, and evaluateClickhouse with a
 * column candidate, prediction columns and the logger's distribution (all nine
 * estimators, t intervals, three certificates, exact weight quantiles). Reports
 * wall time, rows per second, and what each shard read and returned (system.query_log,
 * with prefer_localhost_replica = 0 so shard 1 answers as a remote shard too).
 *
 *   npx tsx bench/clickhouse-cluster.ts [ROWS]
 */
import { execFileSync } from 'node:child_process';
import { execSync } from 'node:child_process';
import { evaluateClickhouse } from '../src/ope/evaluate-clickhouse.js';

const N = Number(process.argv[2] ?? 10_000_000);
const script = new URL('../scripts/clickhouse-cluster.sh', import.meta.url).pathname;
const env = Object.fromEntries([...execFileSync('bash', [script, 'start'], { encoding: 'utf8' }).matchAll(/(OFFPOLICY_CH_[A-Z0-9_]+)='([^']*)'/g)].map((m) => [m[1]!, m[2]!]));
const hosts = [env.OFFPOLICY_CH_HTTP1!, env.OFFPOLICY_CH_HTTP2!];

async function sql(host: string, q: string): Promise<string> {
  const res = await fetch(`http://${host}/`, { method: 'POST', body: q });
  const text = await res.text();
  if (!res.ok) throw new Error(text);
  return text;
}

try {
  const cols = 'row_id Int64, action Int32, reward Float64, propensity Float64, action_probs Array(Float64), cand Array(Float64), q Array(Float64)';
  for (const [s, host] of hosts.entries()) {
    await sql(host, 'CREATE DATABASE bench');
    await sql(host, `CREATE TABLE bench.log_part (${cols}) ENGINE = MergeTree ORDER BY row_id`);
    // Logger [0.4, 0.3, 0.2, 0.1]; candidate varies by row; reward ~ Bernoulli(0.3 + 0.1 a).
    await sql(
      host,
      `INSERT INTO bench.log_part
       SELECT row_id, action, toFloat64((intHash64(row_id + 7) % 1000) < 300 + 100 * action) AS reward, [0.4, 0.3, 0.2, 0.1][action + 1] AS propensity,
              [0.4, 0.3, 0.2, 0.1] AS action_probs, arrayMap(x -> x / arraySum(c), c) AS cand, [0.3, 0.4, 0.5, 0.6] AS q
       FROM (SELECT number * 2 + ${s} AS row_id, (intHash64(row_id) % 1000) / 1000 AS u,
                    toInt32(u >= 0.4) + toInt32(u >= 0.7) + toInt32(u >= 0.9) AS action,
                    [1 + (row_id % 5), 2.0, 1 + (row_id % 3), 1.5] AS c
             FROM numbers(${Math.ceil(N / 2)}))`,
    );
  }
  execFileSync('bash', [script, 'distributed', env.OFFPOLICY_CH_DIR!, 'bench.log_part', 'bench.log'], { encoding: 'utf8' });
  const load = execSync('uptime', { encoding: 'utf8' }).trim();
  const t0 = performance.now();
  const r = await evaluateClickhouse({
    source: `clickhouse://${hosts[0]}/bench.log`,
    policies: [{ spec: 'column:cand' }],
    rewardModel: 'columns:q',
    interval: 't',
    settings: { prefer_localhost_replica: 0 },
  });
  const secs = (performance.now() - t0) / 1000;
  console.log(`rows ${r.dataset.rowCount}, ${r.candidates[0]!.estimates.length} estimators, ${r.candidates[0]!.certificates.length} certificates`);
  console.log(`evaluate: ${secs.toFixed(2)} s, ${(r.dataset.rowCount / secs / 1e6).toFixed(2)} M rows/s`);
  console.log(`dr = ${r.candidates[0]!.estimates.find((e) => e.estimator === 'dr')!.value}`);
  for (const [s, host] of hosts.entries()) {
    await sql(host, 'SYSTEM FLUSH LOGS');
    const rows = (await sql(host, `SELECT read_rows, result_rows, result_bytes, query_duration_ms, substring(query, 1, 40) AS q FROM system.query_log WHERE type = 2 AND is_initial_query = 0 AND query LIKE '%bench.log_part%' ORDER BY event_time FORMAT TSV`)).trim();
    console.log(`shard ${s + 1} (read_rows, result_rows, result_bytes, ms, query):\n${rows}`);
  }
  console.log(`load before: ${load}`);
  console.log(`load after:  ${execSync('uptime', { encoding: 'utf8' }).trim()}`);
} finally {
  execFileSync('bash', [script, 'stop', env.OFFPOLICY_CH_DIR!]);
}
