import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import type { Actor } from '../identity/actor.js';
import { LoadedPolicy } from '../policy/loaded-policy.js';
import type { AccessFilter } from '../store/access-facts.js';
import type { SearchRequest } from '../store/search/search-request.js';

/*
 * A total carried by a search's paging links (issue #13, decision 0018). `_total=accurate`
 * counts every match the caller may see, which for a long record is a scan of all of it: the
 * first page counts, and its links carry the count in `_total-token`, so the pages after it
 * reuse it instead of counting again.
 *
 * A count of what one caller sees is information another caller may not have, and a count of
 * one question is wrong for another, so a token is bound, by an HMAC under a key only this
 * server process holds, to everything the count depended on: the caller (every attribute the
 * policy reads), the policy version, the access filter the search ran under (grants,
 * break-the-glass and withheld records included), the resource type and the honoured query
 * (every parameter except `_count`, `_offset` and the token). The binding is not written in the
 * token: only the count, when it was counted and the MAC are, so a paging URL names no one.
 * A token that does not verify, for any reason, is ignored and the page counts afresh; it is
 * never an error and never trusted. No existing secret fits (the checkpoint and dev keys are
 * asymmetric signing keys with their own purposes, and not always present): the key is random
 * per process, so a token from another instance or from before a restart simply recounts.
 */

/** How long a carried count is reused, from when it was counted: after that, a page counts again. */
export const CARRIED_TOTAL_LIFETIME_MS = 60 * 60 * 1000;

/** Clock steps tolerated for a count that seems to come from the future (a token minted, then the clock set back). */
const CLOCK_SKEW_MS = 60 * 1000;

/** `<total>.<counted at, epoch seconds>.<HMAC-SHA256, base64url>`: digits, dots and base64url only. */
const TOKEN = /^(0|[1-9]\d{0,8})\.([1-9]\d{0,11})\.([A-Za-z0-9_-]{43})$/;

/** Separates this MAC from any other the key could ever make. */
const PURPOSE = 'chartwarden/carried-total/1';

/** A count carried from the page that made it. */
export interface CarriedTotal {
  total: number;
  /** When it was counted (to the second): a token expires `CARRIED_TOTAL_LIFETIME_MS` after it. */
  countedAt: Date;
}

/** Everything a count depends on: a token verifies only for the very same binding. */
export interface TotalBinding {
  actor: Actor;
  policyVersion: string;
  /** The filter the search ran under for this caller (decision 0015): what the count counted. */
  access: AccessFilter;
  resourceType: string;
  /** The honoured parameters except `_count` and `_offset`, in the order given (as the links repeat them). */
  params: ReadonlyArray<readonly [string, string]>;
}

/** The MAC of a count under a binding. */
function mac(key: Buffer, binding: TotalBinding, total: number, countedAtSeconds: number): string {
  const { actor } = binding;
  // The actor's attributes named one by one (not the object as it comes), in a fixed order: the same caller always binds the same.
  const caller = [
    actor.id,
    actor.practitioner,
    [...actor.roles].sort(),
    actor.department ?? null,
    actor.specialty ?? null,
    actor.licence ?? null,
    [...actor.scopes].sort(),
    actor.patientContext ?? null,
  ];
  const bound = [PURPOSE, total, countedAtSeconds, caller, binding.policyVersion, binding.resourceType, binding.params, binding.access];
  return createHmac('sha256', key).update(JSON.stringify(bound)).digest('base64url');
}

/** A token carrying `carried` for `binding`, under `key`. */
export function sealTotal(key: Buffer, binding: TotalBinding, carried: CarriedTotal): string {
  const seconds = Math.floor(carried.countedAt.getTime() / 1000);
  return `${carried.total}.${seconds}.${mac(key, binding, carried.total, seconds)}`;
}

/**
 * The count `token` carries, when it was minted under `key` for exactly `binding` and is at
 * most `lifetimeMs` old at `now`; otherwise undefined (the page counts again).
 */
export function openTotal(key: Buffer, token: string | undefined, binding: TotalBinding, now: Date, lifetimeMs = CARRIED_TOTAL_LIFETIME_MS): CarriedTotal | undefined {
  const m = token === undefined ? null : TOKEN.exec(token);
  if (!m) return undefined;
  const total = Number(m[1]);
  const seconds = Number(m[2]);
  const expected = Buffer.from(mac(key, binding, total, seconds));
  const given = Buffer.from(m[3]);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const countedAt = new Date(seconds * 1000);
  const age = now.getTime() - countedAt.getTime();
  if (age > lifetimeMs || age < -CLOCK_SKEW_MS) return undefined;
  return { total, countedAt };
}

/** One search's view of its carried total: the count to reuse, and the token its links carry. */
export interface SearchTotal {
  /**
   * A verified count for this very search, for a page before the last one it implies: the store
   * reuses it instead of counting (`knownTotal`).
   */
  known?: CarriedTotal;
  /** The token for the links of a page that reports `total`; undefined when nothing is to be carried. */
  tokenFor(total: number | undefined): string | undefined;
}

/**
 * Mints and verifies carried totals with a key made when the service starts (32 random
 * bytes, never written anywhere). Times are the server's clock.
 */
@Injectable()
export class CarriedTotals {
  private readonly key = randomBytes(32);

  constructor(
    private readonly policy: LoadedPolicy,
    private readonly clock: Clock,
  ) {}

  /**
   * The carried total of a search `actor` runs under `access`. Only `_total=accurate` carries
   * one: the other modes never scan everything. The policy version is read now, with the
   * filter the caller just computed: a reload in between makes the pair match no token.
   */
  forSearch(actor: Actor, access: AccessFilter, request: SearchRequest): SearchTotal {
    if (request.total !== 'accurate') return { tokenFor: () => undefined };
    const params = request.used.filter(([k]) => k !== '_count' && k !== '_offset');
    const binding: TotalBinding = { actor, policyVersion: this.policy.version, access, resourceType: request.resourceType, params };
    const opened = openTotal(this.key, request.totalToken, binding, this.clock.now());
    // The page the count says is the last is not given it: that page reads to the end, so the data
    // itself says whether the count still holds (a record added since makes it count again, and
    // its `next` link appears) instead of a stale count hiding the records after it.
    const known = opened && opened.total > request.offset + request.count ? opened : undefined;
    return {
      known,
      // A count reused keeps the time it was made, so following links never makes it younger.
      tokenFor: (total) =>
        total === undefined ? undefined : sealTotal(this.key, binding, { total, countedAt: known?.total === total ? known.countedAt : this.clock.now() }),
    };
  }
}
