import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { WallClock } from '../clock';
import type { TokenIdentity, TokenVerifier } from './types';

/** Outcome of checking a bearer token. */
export type AuthResult =
  | { ok: true; identity: TokenIdentity; expiresAt?: number }
  | { ok: false; code: 'unauthorized' | 'forbidden' };

interface IssuedToken extends TokenIdentity {
  serial: number;
  expiresAt?: number;
}

const DEV_TOKEN = /^dev:([^:]+):(.+)$/;
/** `tw_<base64url JSON [orgId, userId, serial, expiresAt | null]>.<base64url HMAC-SHA256>` */
const ISSUED_TOKEN = /^tw_([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/;

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export function readBearer(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function identityKey(orgId: string, userId: string): string {
  return JSON.stringify([orgId, userId]);
}

/**
 * Tokens of the dev server: signed ones from `issue()`, static
 * `dev:<orgId>:<userId>` ones, or whatever a custom verifier accepts.
 * Expiring issued tokens and revoking users apply on top of a custom verifier
 * too, so the fault hooks work whatever the verifier.
 *
 * An issued token carries its identity, serial number and expiry, signed with
 * a key of this store, so nothing is kept per token: a dev server that runs
 * for days in CI, issuing a token per test, would otherwise hold every token
 * it ever issued. `expireAll()` only remembers the last serial it expired.
 */
export class TokenStore {
  private readonly key = randomBytes(32);
  private issuedCount = 0;
  private expiredThrough = 0;
  private readonly revoked = new Set<string>();

  constructor(
    private readonly now: WallClock,
    private readonly customVerifier?: TokenVerifier,
  ) {}

  /** Issues a signed token; `ttlMs` makes it expire. */
  issue(orgId: string, userId: string, ttlMs?: number): { token: string; expiresAt?: number } {
    if (typeof orgId !== 'string' || orgId.length === 0)
      throw new RangeError(`orgId must be a non-empty string, got ${JSON.stringify(orgId)}`);
    if (typeof userId !== 'string' || userId.length === 0)
      throw new RangeError(`userId must be a non-empty string, got ${JSON.stringify(userId)}`);
    if (ttlMs !== undefined && (!Number.isFinite(ttlMs) || ttlMs <= 0)) {
      throw new RangeError(`ttlMs must be a finite number > 0, got ${ttlMs}`);
    }
    const expiresAt = ttlMs === undefined ? undefined : this.now() + ttlMs;
    this.issuedCount++;
    const payload = Buffer.from(
      JSON.stringify([orgId, userId, this.issuedCount, expiresAt ?? null]),
      'utf8',
    ).toString('base64url');
    const token = `tw_${payload}.${this.sign(payload)}`;
    return expiresAt === undefined ? { token } : { token, expiresAt };
  }

  /** Checks a token: identity, or why not. */
  verify(token: string | undefined): AuthResult {
    const issued = this.readIssued(token);
    if (
      issued &&
      (issued.serial <= this.expiredThrough ||
        (issued.expiresAt !== undefined && issued.expiresAt <= this.now()))
    )
      return { ok: false, code: 'unauthorized' };
    const verdict = this.customVerifier ? this.customVerifier(token) : this.defaultVerify(token, issued);
    if (verdict === 'unauthorized' || verdict === 'forbidden') return { ok: false, code: verdict };
    if (this.isRevoked(verdict.orgId, verdict.userId)) return { ok: false, code: 'forbidden' };
    const identity = { orgId: verdict.orgId, userId: verdict.userId };
    return issued?.expiresAt === undefined
      ? { ok: true, identity }
      : { ok: true, identity, expiresAt: issued.expiresAt };
  }

  /** Makes every issued token expired (static `dev:` tokens have no expiry). */
  expireAll(): void {
    this.expiredThrough = this.issuedCount;
  }

  revoke(orgId: string, userId: string): void {
    this.revoked.add(identityKey(orgId, userId));
  }

  isRevoked(orgId: string, userId: string): boolean {
    return this.revoked.has(identityKey(orgId, userId));
  }

  private defaultVerify(
    token: string | undefined,
    issued: IssuedToken | undefined,
  ): TokenIdentity | 'unauthorized' {
    if (token === undefined) return 'unauthorized';
    if (issued) return { orgId: issued.orgId, userId: issued.userId };
    const match = DEV_TOKEN.exec(token);
    if (match?.[1] && match[2]) return { orgId: match[1], userId: match[2] };
    return 'unauthorized';
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }

  /** The claims of a token this store issued; undefined for any other string. */
  private readIssued(token: string | undefined): IssuedToken | undefined {
    const match = token === undefined ? null : ISSUED_TOKEN.exec(token);
    const payload = match?.[1];
    const mac = match?.[2];
    if (payload === undefined || mac === undefined) return undefined;
    if (!timingSafeEqual(Buffer.from(mac), Buffer.from(this.sign(payload)))) return undefined;
    const [orgId, userId, serial, expiresAt] = JSON.parse(
      Buffer.from(payload, 'base64url').toString('utf8'),
    ) as [string, string, number, number | null];
    return expiresAt === null ? { orgId, userId, serial } : { orgId, userId, serial, expiresAt };
  }
}
