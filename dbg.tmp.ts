import { buildScan } from './src/ope/bandit/scan-sql.js';
import { CLICKHOUSE } from './src/ope/bandit/sql-dialect.js';
import { resolveParams } from './src/ope/estimators/index.js';
const params = resolveParams({ clip: 4 }, 1200);
const s = buildScan(CLICKHOUSE, { table: { from: 'default.t2 AS l', rowCount: 2 }, candidate: { type: 'sql', name: 'c', source: 'c', probs: { kind: 'list', expr: 'l.cand' } }, numActions: 2,
  plan: { estimators: ['ips'], params, tau: 0.25, quantiles: [0.5], rewardsMayBeNull: false, rewardShift: 0 }, loggingProbs: { kind: 'list', expr: 'l.action_probs' } });
console.log(s.sql, JSON.stringify(s.totals));
const r = await fetch(`http://${process.env.OFFPOLICY_CH_HTTP1}/`, { method: 'POST', body: s.sql + ' FORMAT JSONEachRow' });
console.log(await r.text());
