import { AccessGrantEntity } from './access/entities/access-grant.entity.js';
import { AUDIT_ENTITIES } from './audit/entities/audit.entities.js';
import type { EntityList } from './database/chartwarden-database.js';
import { DISPUTE_ENTITIES } from './disputes/entities/dispute.entities.js';
import { AmendmentEntity } from './governance/entities/amendment.entity.js';
import { EditLedgerEntity } from './governance/entities/edit-ledger.entity.js';
import { TextFingerprintEntity } from './governance/entities/text-fingerprint.entity.js';
import { RELEASE_ENTITIES } from './release/entities/copy-request.entities.js';
import { FHIR_STORE_ENTITIES } from './store/postgres/entities/index.js';
import { REMOTE_STORE_ENTITIES } from './store/remote/remote.entities.js';

/**
 * Every table of ChartWarden's, as the features' TypeORM entities, in load order (referenced
 * tables first: a backup is restored in this order). The composition lists them, as
 * `ChartWardenModule` composes the features' modules: the database layer knows no feature and
 * is given this list (`ChartWardenDatabase.connect`, `createDataSource`), to grant the
 * application role its tables (decision 0011), for the backup, and for the test that the
 * migrations build exactly what the entities describe.
 */
export const CHARTWARDEN_ENTITIES: EntityList = [
  ...FHIR_STORE_ENTITIES,
  ...REMOTE_STORE_ENTITIES,
  AccessGrantEntity,
  ...AUDIT_ENTITIES,
  EditLedgerEntity,
  AmendmentEntity,
  TextFingerprintEntity,
  ...DISPUTE_ENTITIES,
  ...RELEASE_ENTITIES,
];
