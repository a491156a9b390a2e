import { Injectable } from '@nestjs/common';
import type { Actor } from '../identity/actor.js';
import { ActingClient } from './acting-client.js';
import { EmbeddedCalls, type ActingOptions } from './embedded-calls.js';

/**
 * The embedding API (issue #15, docs/guides/embedding.md): how a host application reads and
 * writes records in process. Inject it and act as someone: `chartwarden.as(actor).read('Patient', id)`.
 * Every call runs the pipeline an HTTP request runs (the policy's decision, validation, the
 * write guards with the legal hold R-41, the edit ledger, the audit entry R-20) and is audited
 * as an embedded call; nothing reaches the store another way. The host vouches for the actor
 * as ChartWarden's bearer middleware does for a token's: take it from a verified token
 * (`TokenVerifier`) or the host's own sign-in, never from what a user typed.
 */
@Injectable()
export class ChartWarden {
  constructor(private readonly calls: EmbeddedCalls) {}

  /** A client acting as `actor` (copied and frozen here: later changes to the object do not change who acts). */
  as(actor: Actor, options: ActingOptions = {}): ActingClient {
    return new ActingClient(frozenActor(actor), Object.freeze({ ...options }), this.calls);
  }
}

/** The actor as the policy and the trail will see it; refuses one no token could have produced. */
function frozenActor(actor: Actor): Actor {
  if (typeof actor?.id !== 'string' || actor.id.trim() === '') throw new TypeError('chartwarden.as(actor): the actor needs an id (a token\'s sub)');
  if (typeof actor.practitioner !== 'string') throw new TypeError('chartwarden.as(actor): the actor needs a practitioner reference (Practitioner/<id>)');
  if (!Array.isArray(actor.roles) || !Array.isArray(actor.scopes)) {
    throw new TypeError('chartwarden.as(actor): roles and scopes must be arrays (scopes: [] when not a SMART client)');
  }
  return Object.freeze({ ...actor, roles: Object.freeze([...actor.roles]), scopes: Object.freeze([...actor.scopes]) });
}
