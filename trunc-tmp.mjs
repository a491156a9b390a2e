import pg from 'pg';
import { ChartWardenDatabase } from '/work/main/dist/src/database/chartwarden-database.js';
const base = 'postgres://postgres@127.0.0.1:5432/';
const name = `cw_trunc_${Date.now()}`;
const c = new pg.Client({ connectionString: base + 'postgres' }); await c.connect(); await c.query(`CREATE DATABASE "${name}"`);
const db = await ChartWardenDatabase.connect(base + name, 2);
await db.query(`INSERT INTO fhir_resource_version VALUES ('Patient','p',1,now(),'create','{}')`);
try { await db.query('TRUNCATE fhir_resource_version'); console.log('TRUNCATE allowed'); } catch (e) { console.log('refused', e.message); }
console.log(await db.query('SELECT count(*) FROM fhir_resource_version'));
await db.onApplicationShutdown();
await c.query(`DROP DATABASE "${name}" WITH (FORCE)`); await c.end();
