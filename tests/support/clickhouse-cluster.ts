/**
 * The two-shard ClickHouse cluster of scripts/clickhouse-cluster.sh for tests:
 * the one CI started (OFFPOLICY_CH_DIR and friends in the environment), else one
 * started here (and stopped by the returned stop()). Without clickhouse-server
 * the tests skip, except under CI=true, where a missing server is a failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLUSTER_SCRIPT = fileURLToPath(new URL('../../scripts/clickhouse-cluster.sh', import.meta.url));

export interface TestCluster {
  dir: string;
  /** HOST:PORT of the HTTP interfaces of shard 1 and shard 2. */
  http1: string;
  http2: string;
  /** HOST:PORT of the native (TCP) interface of shard 1 (for remote()). */
  tcp1: string;
  pid1: number;
  pid2: number;
  cluster: string;
  user: string;
  password: string;
  /** Stops the cluster if this process started it. */
  stop(): void;
}

function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/(OFFPOLICY_CH_[A-Z0-9_]+)='([^']*)'/g)) out[m[1]!] = m[2]!;
  return out;
}

function fromEnv(env: Record<string, string | undefined>, stop: () => void): TestCluster {
  return {
    dir: env.OFFPOLICY_CH_DIR!,
    http1: env.OFFPOLICY_CH_HTTP1!,
    http2: env.OFFPOLICY_CH_HTTP2!,
    tcp1: env.OFFPOLICY_CH_TCP1!,
    pid1: Number(env.OFFPOLICY_CH_PID1),
    pid2: Number(env.OFFPOLICY_CH_PID2),
    cluster: env.OFFPOLICY_CH_CLUSTER!,
    user: env.OFFPOLICY_CH_TEST_USER!,
    password: env.OFFPOLICY_CH_TEST_PASSWORD!,
    stop,
  };
}

export function clickhouseAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v clickhouse-server'], { encoding: 'utf8' }).status === 0;
}

/** Whether the ClickHouse tests run here (else they skip; under CI=true they must run). */
export const CLICKHOUSE_TESTS = Boolean(process.env.OFFPOLICY_CH_DIR) || clickhouseAvailable() || process.env.CI === 'true';

/** A fresh cluster of our own (for tests that stop a server). */
export function startCluster(): TestCluster {
  const out = execFileSync('bash', [CLUSTER_SCRIPT, 'start'], { encoding: 'utf8' });
  const env = parseEnv(out);
  return fromEnv(env, () => {
    spawnSync('bash', [CLUSTER_SCRIPT, 'stop', env.OFFPOLICY_CH_DIR!], { stdio: 'ignore' });
  });
}

/** The shared cluster: CI's when its address is in the environment, else a new one. */
export function sharedCluster(): TestCluster {
  if (process.env.OFFPOLICY_CH_DIR) return fromEnv(process.env, () => {});
  return startCluster();
}

/** One statement over HTTP (DDL and loading helpers; the code under test uses its own client). */
export async function chSql(hostPort: string, sql: string): Promise<string> {
  const res = await fetch(`http://${hostPort}/`, { method: 'POST', body: sql });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse ${hostPort}: ${text}`);
  return text;
}

/** DB.DIST over DB.LOCAL on both shards (the script's helper). */
export function createDistributed(c: TestCluster, local: string, dist: string): void {
  execFileSync('bash', [CLUSTER_SCRIPT, 'distributed', c.dir, local, dist], { encoding: 'utf8' });
}
