import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { IntegrityRunEntity } from './integrity-run.entity.js';

/**
 * One audit entry: a link of one of the hash chains. The columns a reader
 * searches by are copies of fields of `content`; `content` (RFC 8785 canonical JSON) is
 * what `hash` covers. Rows are never updated or deleted (trigger, migration 1764600000000).
 */
@Entity({ name: 'audit_entry' })
@Index('ix_audit_entry_patient', ['patient', 'recorded'])
@Index('ix_audit_entry_actor', ['actor', 'recorded'])
@Index('ix_audit_entry_recorded', ['recorded'])
@Index('ix_audit_entry_request', ['requestId'])
@Index('ix_audit_entry_entity', ['entityType', 'entityId'])
// The versions a disclosure handed out (`content.disclosed`): a partial GIN expression index, migration 1765200000000.
@Index('ix_audit_entry_disclosed', { synchronize: false })
export class AuditEntryEntity {
  @PrimaryColumn({ name: 'chain', type: 'smallint' })
  chain!: number;

  @PrimaryColumn({ name: 'seq', type: 'bigint' })
  seq!: string;

  @Column({ name: 'recorded', type: 'timestamptz' })
  recorded!: Date;

  @Column({ name: 'request_id', type: 'varchar', length: 128 })
  requestId!: string;

  @Column({ name: 'actor', type: 'varchar', length: 128, nullable: true })
  actor!: string | null;

  @Column({ name: 'patient', type: 'varchar', length: 64, nullable: true })
  patient!: string | null;

  @Column({ name: 'action', type: 'char', length: 1 })
  action!: string;

  @Column({ name: 'subtype', type: 'varchar', length: 64 })
  subtype!: string;

  @Column({ name: 'outcome', type: 'smallint' })
  outcome!: number;

  @Column({ name: 'entity_type', type: 'varchar', length: 64, nullable: true })
  entityType!: string | null;

  @Column({ name: 'entity_id', type: 'varchar', length: 64, nullable: true })
  entityId!: string | null;

  @Column({ name: 'content', type: 'text' })
  content!: string;

  @Column({ name: 'prev_hash', type: 'bytea' })
  prevHash!: Buffer;

  @Column({ name: 'hash', type: 'bytea' })
  hash!: Buffer;
}

/** The head of each chain: its last seq and hash. Moves forward only, to an entry that exists. */
@Entity({ name: 'audit_chain' })
export class AuditChainEntity {
  @PrimaryColumn({ name: 'chain', type: 'smallint' })
  chain!: number;

  @Column({ name: 'seq', type: 'bigint', default: 0 })
  seq!: string;

  @Column({ name: 'head', type: 'bytea' })
  head!: Buffer;
}

export const AUDIT_ENTITIES = [AuditEntryEntity, AuditChainEntity, IntegrityRunEntity];
