/**
 * A ClickHouse table as a data source: `clickhouse://HOST:PORT/DB.TABLE` (the
 * HTTP interface), credentials from the environment (OFFPOLICY_CLICKHOUSE_USER,
 * OFFPOLICY_CLICKHOUSE_PASSWORD; never in the URL, results or messages), queries
 * through the official client (@clickhouse/client, which speaks to 18.16's HTTP
 * interface as it is).
 *
 * Every query carries its own query_id and settings that make a result either
 * whole or an error: skip_unavailable_shards = 0 (a shard that cannot answer
 * fails the query instead of being left out), wait_end_of_query = 1 (the server
 * buffers the result, so an exception cannot arrive after a partial body), and
 * max_execution_time from the timeout. A timeout or an aborted signal sends
 * KILL QUERY for that query_id (18.16 keeps running a query whose HTTP request
 * was aborted). Failures become OffpolicyErrors with E_CLICKHOUSE_* codes.
 */
import { randomUUID } from 'node:crypto';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { OffpolicyError } from '../core/errors.js';

export interface ClickhouseSource {
  host: string;
  port: number;
  database: string;
  table: string;
}

export const CLICKHOUSE_USER_ENV = 'OFFPOLICY_CLICKHOUSE_USER';
export const CLICKHOUSE_PASSWORD_ENV = 'OFFPOLICY_CLICKHOUSE_PASSWORD';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses clickhouse://HOST:PORT/DB.TABLE (credentials in the URL are refused: they belong in the environment). */
export function parseClickhouseUrl(url: string): ClickhouseSource {
  const bad = (why: string): OffpolicyError =>
    new OffpolicyError('E_CLICKHOUSE_URL', `"${url.replace(/\/\/[^@/]*@/, '//***@')}" is not a ClickHouse source: ${why}.`, {
      hint: `Write clickhouse://HOST:PORT/DB.TABLE (the HTTP port, e.g. 8123); put credentials in ${CLICKHOUSE_USER_ENV} and ${CLICKHOUSE_PASSWORD_ENV}.`,
    });
  const m = /^clickhouse:\/\/([^/]*)\/([^/?#]+)$/.exec(url.trim());
  if (!m) throw bad('expected clickhouse://HOST:PORT/DB.TABLE');
  const authority = m[1]!;
  if (authority.includes('@')) throw bad('credentials are not taken from the URL');
  const hp = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(authority);
  if (!hp) throw bad('expected HOST:PORT');
  const port = Number(hp[2]);
  if (!(port > 0 && port < 65536)) throw bad(`port ${hp[2]} is out of range`);
  const parts = m[2]!.split('.');
  if (parts.length !== 2 || !parts.every((p) => IDENT.test(p))) throw bad('expected DB.TABLE (letters, digits and _)');
  return { host: hp[1]!, port, database: parts[0]!, table: parts[1]! };
}

/** The source as text, without credentials (results and messages name it so). */
export function clickhouseRef(s: ClickhouseSource): string {
  return `clickhouse://${s.host}:${s.port}/${s.database}.${s.table}`;
}

/** `db`.`table` for SQL. */
export function clickhouseTableSql(s: Pick<ClickhouseSource, 'database' | 'table'>): string {
  return `${s.database}.${s.table}`;
}

export interface ClickhouseOptions {
  /** Default: OFFPOLICY_CLICKHOUSE_USER, else "default". */
  user?: string;
  /** Default: OFFPOLICY_CLICKHOUSE_PASSWORD, else empty. */
  password?: string;
  /** Per-query limit: the server stops at max_execution_time, the client kills the query a little later. Default 10 minutes. */
  timeoutMs?: number;
  /** Aborting cancels the running query (KILL QUERY) and fails with E_CANCELLED. */
  signal?: AbortSignal;
}

export interface QueryOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Extra settings (e.g. prefer_localhost_replica). */
  settings?: Record<string, string | number>;
}

/** ClickHouse's JSON spells non-finite floats as strings (output_format_json_quote_denormals): back to numbers. */
function denormal(v: unknown): unknown {
  if (typeof v === 'string') {
    if (v === 'inf' || v === '+inf') return Infinity;
    if (v === '-inf') return -Infinity;
    if (v === 'nan' || v === '-nan') return NaN;
    return v;
  }
  if (Array.isArray(v)) return v.map(denormal);
  return v;
}

function errorCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  const m = /Code: (\d+)/.exec(String((e as Error).message ?? e));
  return m ? Number(m[1]) : undefined;
}

export class ClickhouseConnection {
  private readonly client: ClickHouseClient;
  private readonly secret: string;
  readonly ref: string;

  private constructor(
    readonly source: ClickhouseSource,
    private readonly opts: ClickhouseOptions,
  ) {
    const user = opts.user ?? process.env[CLICKHOUSE_USER_ENV] ?? 'default';
    this.secret = opts.password ?? process.env[CLICKHOUSE_PASSWORD_ENV] ?? '';
    this.ref = clickhouseRef(source);
    this.client = createClient({
      url: `http://${source.host}:${source.port}`,
      username: user,
      password: this.secret,
      // Our own timer kills the query; the client's is a backstop.
      request_timeout: (opts.timeoutMs ?? 600_000) + 30_000,
      compression: { request: false, response: false },
    });
  }

  static open(source: ClickhouseSource | string, opts: ClickhouseOptions = {}): ClickhouseConnection {
    return new ClickhouseConnection(typeof source === 'string' ? parseClickhouseUrl(source) : source, opts);
  }

  /** The table of the source as SQL. */
  get tableSql(): string {
    return clickhouseTableSql(this.source);
  }

  /** Messages never carry the password. */
  private scrub(text: string): string {
    return this.secret ? text.split(this.secret).join('***') : text;
  }

  private translate(e: unknown, what: string): OffpolicyError {
    if (e instanceof OffpolicyError) return e;
    const msg = this.scrub(String((e as Error)?.message ?? e)).split('\n')[0]!.replace(/, e\.what\(\) = DB::Exception$/, '');
    const sys = (e as { code?: unknown }).code;
    const at = `${this.ref} (${what})`;
    if (sys === 'ECONNREFUSED' || sys === 'ENOTFOUND' || sys === 'EHOSTUNREACH' || sys === 'ECONNRESET' || /ECONNREFUSED|ENOTFOUND|socket hang up/.test(msg)) {
      return new OffpolicyError('E_CLICKHOUSE_UNREACHABLE', `Cannot reach the ClickHouse server of ${at}: ${msg}.`, {
        hint: 'Check HOST:PORT (the HTTP interface, e.g. 8123) and that the server runs.',
        cause: e,
      });
    }
    const code = errorCode(e);
    switch (code) {
      case 60:
      case 81:
        return new OffpolicyError('E_CLICKHOUSE_TABLE', `${at}: ${msg}.`, { hint: 'Check DB.TABLE in the clickhouse:// URL (SHOW TABLES FROM DB).', cause: e });
      case 47:
      case 16:
        return new OffpolicyError('E_MISSING_COLUMN', `${at}: ${msg}.`, { hint: 'Check the column names against DESCRIBE TABLE.', cause: e });
      case 159:
        return new OffpolicyError('E_CLICKHOUSE_TIMEOUT', `${at}: the query exceeded its time limit: ${msg}.`, { hint: 'Raise the timeout or evaluate a smaller table.', cause: e });
      case 394:
        return new OffpolicyError('E_CANCELLED', `${at}: the query was cancelled.`, { cause: e });
      case 192:
      case 193:
      case 194:
      case 195:
      case 516:
        return new OffpolicyError('E_CLICKHOUSE_AUTH', `${at}: the server refused the credentials: ${msg}.`, {
          hint: `Set ${CLICKHOUSE_USER_ENV} and ${CLICKHOUSE_PASSWORD_ENV}.`,
          cause: e,
        });
      case 209:
      case 210:
      case 279:
      case 32:
        return new OffpolicyError('E_CLICKHOUSE_SHARD', `${at}: a shard did not answer, so no result is reported: ${msg}.`, {
          hint: 'Bring the shard back (or evaluate its tables directly); partial results over the shards that answered are never reported.',
          cause: e,
        });
      default:
        return new OffpolicyError('E_CLICKHOUSE_QUERY', `${at}: ${msg}.`, { cause: e });
    }
  }

  /**
   * Runs a query under a fresh query_id with a timer and the caller's signal;
   * on either it sends KILL QUERY and fails (E_CLICKHOUSE_TIMEOUT / E_CANCELLED).
   */
  private async guarded<T>(what: string, o: QueryOptions, run: (queryId: string, signal: AbortSignal, settings: Record<string, string | number>) => Promise<T>): Promise<T> {
    const queryId = `offpolicy-${randomUUID()}`;
    const timeoutMs = o.timeoutMs ?? this.opts.timeoutMs ?? 600_000;
    const local = new AbortController();
    let why: 'timeout' | 'cancel' | null = null;
    const stop = (w: 'timeout' | 'cancel'): void => {
      if (why) return;
      why = w;
      local.abort();
    };
    const signals = [o.signal, this.opts.signal].filter((s): s is AbortSignal => s !== undefined);
    if (signals.some((s) => s.aborted)) throw new OffpolicyError('E_CANCELLED', `${this.ref} (${what}): cancelled before it started.`);
    const onAbort = (): void => stop('cancel');
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    const settings = {
      skip_unavailable_shards: 0,
      wait_end_of_query: 1,
      output_format_json_quote_denormals: 1,
      // ClickHouse expands aliases into the expressions that read them before it dedups them: a flat scan
      // over a policy in SQL grows past the default limit (500,000) although each expression is computed once.
      max_expanded_ast_elements: 50_000_000,
      // The server stops a moment after our timer, which kills the query first.
      max_execution_time: Math.max(1, Math.ceil(timeoutMs / 1000) + 1),
      ...o.settings,
    };
    try {
      return await run(queryId, local.signal, settings);
    } catch (e) {
      if (why) {
        await this.kill(queryId);
        if (why === 'timeout') {
          throw new OffpolicyError('E_CLICKHOUSE_TIMEOUT', `${this.ref} (${what}): no answer within ${timeoutMs} ms; the query (${queryId}) was killed.`, {
            hint: 'Raise the timeout or evaluate a smaller table.',
          });
        }
        throw new OffpolicyError('E_CANCELLED', `${this.ref} (${what}): cancelled; the query (${queryId}) was killed.`);
      }
      throw this.translate(e, what);
    } finally {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', onAbort);
    }
  }

  /** KILL QUERY for a query_id (best effort: the server may be the thing that failed). */
  async kill(queryId: string): Promise<void> {
    try {
      await this.client.command({ query: `KILL QUERY WHERE query_id = '${queryId}' SYNC`, clickhouse_settings: { max_execution_time: 10 } as never });
    } catch {
      // Unreachable server: nothing left to kill there.
    }
  }

  /** A query's rows as objects (Float64 as numbers, non-finite included; 64-bit integers as numeric strings; arrays as arrays). */
  async query(sql: string, o: QueryOptions = {}): Promise<Record<string, unknown>[]> {
    return this.guarded('query', o, async (query_id, abort_signal, settings) => {
      const rs = await this.client.query({ query: sql, format: 'JSONEachRow', query_id, abort_signal, clickhouse_settings: settings as never });
      const rows = await rs.json<Record<string, unknown>>();
      for (const row of rows) for (const k of Object.keys(row)) row[k] = denormal(row[k]);
      return rows;
    });
  }

  /** A statement without a result (DDL, INSERT ... SELECT, KILL). */
  async command(sql: string, o: QueryOptions = {}): Promise<void> {
    await this.guarded('command', o, async (query_id, abort_signal, settings) => {
      const { wait_end_of_query: _w, output_format_json_quote_denormals: _q, ...rest } = settings;
      await this.client.command({ query: sql, query_id, abort_signal, clickhouse_settings: rest as never });
    });
  }

  /** Inserts rows (objects keyed by column) with JSONEachRow. */
  async insert(tableSql: string, rows: readonly Record<string, unknown>[], o: QueryOptions = {}): Promise<void> {
    await this.guarded('insert', o, async (query_id, abort_signal, settings) => {
      const { wait_end_of_query: _w, output_format_json_quote_denormals: _q, ...rest } = settings;
      await this.client.insert({ table: tableSql, values: rows as Record<string, unknown>[], format: 'JSONEachRow', query_id, abort_signal, clickhouse_settings: rest as never });
    });
  }

  /** Columns of a table (name, ClickHouse type), in table order; E_CLICKHOUSE_TABLE when it does not exist. */
  async columns(s: Pick<ClickhouseSource, 'database' | 'table'> = this.source): Promise<{ name: string; type: string }[]> {
    const rows = await this.query(`SELECT name, type FROM system.columns WHERE database = '${s.database}' AND table = '${s.table}'`);
    if (rows.length === 0) {
      const exists = await this.query(`SELECT count() AS c FROM system.tables WHERE database = '${s.database}' AND name = '${s.table}'`);
      if (Number(exists[0]?.c) === 0) {
        throw new OffpolicyError('E_CLICKHOUSE_TABLE', `${this.ref}: table ${s.database}.${s.table} does not exist.`, { hint: `Check DB.TABLE (SHOW TABLES FROM ${s.database}).` });
      }
    }
    return rows.map((r) => ({ name: String(r.name), type: String(r.type) }));
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
