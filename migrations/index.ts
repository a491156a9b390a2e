import { InitialSchema1764400000000 } from './1764400000000-InitialSchema.js';
import { AccessGrants1764500000000 } from './1764500000000-AccessGrants.js';
import { AuditTrail1764600000000 } from './1764600000000-AuditTrail.js';
import { EditLedger1764700000000 } from './1764700000000-EditLedger.js';
import { Amendments1764800000000 } from './1764800000000-Amendments.js';
import { TextFingerprints1764900000000 } from './1764900000000-TextFingerprints.js';
import { Disputes1765000000000 } from './1765000000000-Disputes.js';
import { CopyRequests1765100000000 } from './1765100000000-CopyRequests.js';
import { AuditDisclosures1765200000000 } from './1765200000000-AuditDisclosures.js';
import { CompartmentFacts1765300000000 } from './1765300000000-CompartmentFacts.js';
import { SearchIndexKinds1765310000000 } from './1765310000000-SearchIndexKinds.js';
import { ResourceText1765320000000 } from './1765320000000-ResourceText.js';
import { RecordOwner1765400000000 } from './1765400000000-RecordOwner.js';
import { TokenOwner1765410000000 } from './1765410000000-TokenOwner.js';
import { DisputeUnsealRecord1765450000000 } from './1765450000000-DisputeUnsealRecord.js';
import { AuditIntegrityRuns1765480000000 } from './1765480000000-AuditIntegrityRuns.js';
import { DisputeSignatures1765500000000 } from './1765500000000-DisputeSignatures.js';
import { RemoteStore1765600000000 } from './1765600000000-RemoteStore.js';
import { DisputeCopyRecordPages1765700000000 } from './1765700000000-DisputeCopyRecordPages.js';
import { PatientLinks1765800000000 } from './1765800000000-PatientLinks.js';

/** Every migration, oldest first. Never edit one that has landed: add a new one. */
export const MIGRATIONS = [InitialSchema1764400000000, AccessGrants1764500000000, AuditTrail1764600000000, EditLedger1764700000000, Amendments1764800000000, TextFingerprints1764900000000, Disputes1765000000000, CopyRequests1765100000000, AuditDisclosures1765200000000, CompartmentFacts1765300000000, SearchIndexKinds1765310000000, ResourceText1765320000000, RecordOwner1765400000000, TokenOwner1765410000000, DisputeUnsealRecord1765450000000, AuditIntegrityRuns1765480000000, DisputeSignatures1765500000000, RemoteStore1765600000000, DisputeCopyRecordPages1765700000000, PatientLinks1765800000000];
