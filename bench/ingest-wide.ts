/**
 * Ingest cost against the number of columns (issue 17: 20 rows x 4,000
 * columns took 263 s when each column's check was one arm of an N-way
 * UNION ALL). Every rule is now counted in one scan, so the cost should grow
 * about linearly in the columns.
 *
 *   npx tsx bench/ingest-wide.ts [rows] [columns...]
 *
 * Writes a bandit CSV (action, reward, propensity, f0..f{C-4}) per column
 * count, ingests it into a fresh temp workspace and prints wall and CPU time
 * and the load average (the machine is shared: CPU time is the steadier figure).
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { ingest } from '../src/datasets/ingest/index.js';
import { Workspace } from '../src/datasets/workspace.js';

const rows = Number(process.argv[2] ?? 20);
const counts = process.argv.slice(3).map(Number);
const columns = counts.length ? counts : [250, 500, 1000, 2000];

const dir = await mkdtemp(path.join(tmpdir(), 'offpolicy-bench-wide-'));
try {
  for (const c of columns) {
    const header = ['action', 'reward', 'propensity', ...Array.from({ length: c - 3 }, (_, i) => `f${i}`)];
    const lines = [header.join(',')];
    for (let r = 0; r < rows; r++) lines.push([r % 3, r % 2, 0.5, ...Array.from({ length: c - 3 }, (_, i) => (r * 31 + i) % 97 / 7)].join(','));
    const file = path.join(dir, `wide-${c}.csv`);
    writeFileSync(file, lines.join('\n') + '\n');
    const ws = await Workspace.open(path.join(dir, `ws-${c}`));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await ingest(ws, file, { name: 'wide' });
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `${rows} rows x ${c} columns: ${wall.toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU (load ${loadavg().map((x) => x.toFixed(1)).join(' ')})`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
