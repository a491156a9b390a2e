import { createHash, timingSafeEqual } from 'node:crypto';
import type { MetricsOptions } from '../config/chartwarden.options.js';

/** Who may read `GET /metrics` (from `ChartWardenOptions.metrics`; CHARTWARDEN_METRICS, CHARTWARDEN_METRICS_TOKEN). */
export class MetricsSettings {
  readonly enabled: boolean;
  private readonly tokenDigest?: Buffer;

  constructor(options: MetricsOptions = {}) {
    this.enabled = options.enabled ?? false;
    this.tokenDigest = options.token ? digest(options.token) : undefined;
  }

  /** Whether a token is required. */
  get protected(): boolean {
    return this.tokenDigest !== undefined;
  }

  /**
   * Whether `authorization` (the request's header) lets the caller read the metrics: always
   * when no token is configured; otherwise only `Bearer <token>`, compared in constant time
   * (both sides hashed first, so neither the length nor a prefix of the token leaks).
   */
  admits(authorization: string | undefined): boolean {
    if (!this.tokenDigest) return true;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    return timingSafeEqual(digest(match?.[1] ?? ''), this.tokenDigest) && match !== null;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
