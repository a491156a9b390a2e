import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';

/**
 * The benchmark's baselines: the least a Node.js process can do to serve FHIR reads from
 * ChartWarden's own table — `node:http` and a `pg` Pool, no framework, no token, no
 * validation, no policy, no audit. ChartWarden's throughput is reported as a ratio of these,
 * measured in the same run on the same rows:
 * - `GET /Patient/:id` answers the stored JSON (the read baseline);
 * - `GET /Observation?patient=<id>&_count=<n>` answers the page ChartWarden's
 *   `Observation?patient=<id>` answers (issue #13's search baseline), see `searchPage`.
 *
 * Env: PORT, DATABASE_URL, BARE_POOL_SIZE (ChartWarden's default pool size, 20),
 * BARE_TOTAL_UP_TO (ChartWarden's `countTotalUpTo`, 500: the default total's cap).
 */
const port = Number(process.env.PORT ?? 0);
const poolSize = Number(process.env.BARE_POOL_SIZE ?? 20);
const totalUpTo = Number(process.env.BARE_TOTAL_UP_TO ?? 500);
const connectionString = process.env.DATABASE_URL;
if (!connectionString) {
  console.error('bare-server: DATABASE_URL is required');
  process.exit(1);
}

const pool = new pg.Pool({ connectionString, max: poolSize, application_name: 'chartwarden-bench-bare' });
pool.on('error', (e) => console.error(`bare-server: idle client error: ${e.message}`));

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const PATIENT_PATH = /^\/Patient\/([A-Za-z0-9\-.]{1,64})$/;
const DEFAULT_COUNT = 20;
const MAX_COUNT = 1000;

/**
 * One patient's Observations in ChartWarden's default search order (`_lastUpdated` then id,
 * `orderByClause`), read from the index ChartWarden's patient page reads,
 * `ix_fhir_resource_owner (owner, resource_type, last_updated, id)` (decision 0018), one row
 * more than the page so that a last page needs no count. The stored text, as ChartWarden
 * sends it; the jsonb only for a version kept without one. Prepared once per connection, as
 * ChartWarden's searches are.
 */
const PAGE_SQL = `SELECT id, COALESCE(content_text, content::text) AS text FROM fhir_resource
  WHERE owner = $1 AND resource_type = 'Observation' ORDER BY last_updated, id LIMIT $2`;
/** ChartWarden's default total (`_total=estimate`, decision 0018): exact up to the cap, left out beyond. */
const COUNT_UP_TO_SQL = `SELECT count(*)::int AS n FROM (SELECT 1 FROM fhir_resource
  WHERE owner = $1 AND resource_type = 'Observation' LIMIT $2) AS c`;

const server = createServer((req, res) => {
  const url = req.url ?? '';
  if (req.method !== 'GET') return void res.writeHead(404).end();
  const patient = PATIENT_PATH.exec(url);
  if (patient) return void readPatient(patient[1], res).catch((e: unknown) => failed(res, e));
  if (url.startsWith('/Observation?')) return void searchPage(req, url, res).catch((e: unknown) => failed(res, e));
  res.writeHead(404).end();
});

async function readPatient(id: string, res: ServerResponse): Promise<void> {
  const result = await pool.query<{ content: unknown }>("SELECT content FROM fhir_resource WHERE resource_type='Patient' AND id=$1", [id]);
  if (result.rows.length === 0) return void res.writeHead(404).end();
  send(res, Buffer.from(JSON.stringify(result.rows[0].content)));
}

/**
 * A searchset Bundle of one patient's page, concatenated from the stored texts (never parsed):
 * `total` is what ChartWarden's default total gives — the page's own size on a last first
 * page, else a count capped at BARE_TOTAL_UP_TO (left out beyond it).
 */
async function searchPage(req: IncomingMessage, url: string, res: ServerResponse): Promise<void> {
  const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
  const patient = query.get('patient') ?? '';
  const count = query.has('_count') ? Number(query.get('_count')) : DEFAULT_COUNT;
  if (!ID.test(patient) || !Number.isInteger(count) || count < 1 || count > MAX_COUNT) return void res.writeHead(400).end();
  const page = await pool.query<{ id: string; text: string }>({ name: 'bare-page', text: PAGE_SQL, values: [patient, count + 1] });
  let total: number | undefined = page.rows.length;
  if (page.rows.length > count) {
    const [{ n }] = (await pool.query<{ n: number }>({ name: 'bare-count', text: COUNT_UP_TO_SQL, values: [patient, totalUpTo + 1] })).rows;
    total = n <= totalUpTo ? n : undefined;
  }
  // A FHIR id is [A-Za-z0-9\-.]{1,64}: it goes inside a JSON string as it is.
  const base = JSON.stringify(`http://${req.headers.host ?? '127.0.0.1'}/Observation/`).slice(0, -1);
  const entries = page.rows.slice(0, count).map((r) => `{"fullUrl":${base}${r.id}","resource":${r.text},"search":{"mode":"match"}}`);
  send(res, Buffer.from(`{"resourceType":"Bundle","type":"searchset"${total === undefined ? '' : `,"total":${total}`},"entry":[${entries.join(',')}]}`));
}

function send(res: ServerResponse, body: Buffer): void {
  res.writeHead(200, { 'Content-Type': 'application/fhir+json; charset=utf-8', 'Content-Length': body.length });
  res.end(body);
}

function failed(res: ServerResponse, e: unknown): void {
  console.error(`bare-server: ${e instanceof Error ? e.message : String(e)}`);
  if (!res.headersSent) res.writeHead(500);
  res.end();
}

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(`bare-server listening on 127.0.0.1:${typeof address === 'object' && address ? address.port : port} (pool ${poolSize})`);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
