import { createServer } from 'node:http';
import pg from 'pg';

/**
 * The benchmark's baseline: the least a Node.js process can do to serve a FHIR read from
 * ChartWarden's own table — `node:http` and a `pg` Pool, no framework, no token, no
 * validation. `GET /Patient/:id` answers the stored JSON. ChartWarden's read throughput is
 * reported as a ratio of this one, measured in the same run on the same rows.
 *
 * Env: PORT, DATABASE_URL, BARE_POOL_SIZE (ChartWarden's default pool size, 20).
 */
const port = Number(process.env.PORT ?? 0);
const poolSize = Number(process.env.BARE_POOL_SIZE ?? 20);
const connectionString = process.env.DATABASE_URL;
if (!connectionString) {
  console.error('bare-server: DATABASE_URL is required');
  process.exit(1);
}

const pool = new pg.Pool({ connectionString, max: poolSize, application_name: 'chartwarden-bench-bare' });
pool.on('error', (e) => console.error(`bare-server: idle client error: ${e.message}`));

const PATIENT_PATH = /^\/Patient\/([A-Za-z0-9\-.]{1,64})$/;

const server = createServer((req, res) => {
  const m = req.method === 'GET' ? PATIENT_PATH.exec(req.url ?? '') : null;
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  pool.query<{ content: unknown }>("SELECT content FROM fhir_resource WHERE resource_type='Patient' AND id=$1", [m[1]]).then(
    (result) => {
      if (result.rows.length === 0) {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.from(JSON.stringify(result.rows[0].content));
      res.writeHead(200, { 'Content-Type': 'application/fhir+json; charset=utf-8', 'Content-Length': body.length });
      res.end(body);
    },
    (e: unknown) => {
      console.error(`bare-server: ${e instanceof Error ? e.message : String(e)}`);
      res.writeHead(500).end();
    },
  );
});

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
