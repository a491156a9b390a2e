import { createDataSource } from './database/chartwarden-database.js';
import { CHARTWARDEN_ENTITIES } from './schema.js';

/**
 * For the TypeORM CLI on the compiled output, e.g.
 *   DATABASE_URL=postgres://... npx typeorm migration:run -d dist/src/data-source.js
 */
const url = process.env.DATABASE_URL;
if (!url) throw new Error('Set DATABASE_URL to use the TypeORM CLI');
export default createDataSource(url, CHARTWARDEN_ENTITIES);
