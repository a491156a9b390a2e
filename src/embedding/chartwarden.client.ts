import { Injectable } from '@nestjs/common';
import type { Actor } from '../identity/actor.js';
import { checkedActor } from '../identity/domain/actor-from-claims.js';
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

/** The actor as the policy and the trail will see it, held to a token's rules (`checkedActor`); refuses one no token could have produced. */
function frozenActor(actor: Actor): Actor {
  let checked: Actor;
  try {
    checked = checkedActor(actor);
  } catch (e) {
    throw new TypeError(`chartwarden.as(actor): ${(e as Error).message}`, { cause: e });
  }
  return Object.freeze({ ...checked, roles: Object.freeze([...checked.roles]), scopes: Object.freeze([...checked.scopes]) });
}
