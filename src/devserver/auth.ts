import { randomBytes } from 'node:crypto';
import type { WallClock } from '../clock';
import type { TokenIdentity, TokenVerifier } from './types';

/** Outcome of checking a bearer token. */
export type AuthResult =
  | { ok: true; identity: TokenIdentity; expiresAt?: number }
  | { ok: false; code: 'unauthorized' | 'forbidden' };

interface IssuedToken extends TokenIdentity {
  expiresAt?: number;
}

const DEV_TOKEN = /^dev:([^:]+):(.+)$/;

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export function readBearer(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function identityKey(orgId: string, userId: string): string {
  return JSON.stringify([orgId, userId]);
}

/**
 * Tokens of the dev server: random ones from `issue()` (kept with their
 * expiry), static `dev:<orgId>:<userId>` ones, or whatever a custom verifier
 * accepts. Expiring issued tokens and revoking users apply on top of a custom
 * verifier too, so the fault hooks work whatever the verifier.
 */
export class TokenStore {
  private readonly issued = new Map<string, IssuedToken>();
  private readonly revoked = new Set<string>();

  constructor(
    private readonly now: WallClock,
    private readonly customVerifier?: TokenVerifier,
  ) {}

  /** Issues a random token; `ttlMs` makes it expire. */
  issue(orgId: string, userId: string, ttlMs?: number): { token: string; expiresAt?: number } {
    if (typeof orgId !== 'string' || orgId.length === 0)
      throw new RangeError(`orgId must be a non-empty string, got ${JSON.stringify(orgId)}`);
    if (typeof userId !== 'string' || userId.length === 0)
      throw new RangeError(`userId must be a non-empty string, got ${JSON.stringify(userId)}`);
    if (ttlMs !== undefined && (!Number.isFinite(ttlMs) || ttlMs <= 0)) {
      throw new RangeError(`ttlMs must be a finite number > 0, got ${ttlMs}`);
    }
    const token = `tw_${randomBytes(18).toString('base64url')}`;
    const entry: IssuedToken = { orgId, userId };
    if (ttlMs !== undefined) entry.expiresAt = this.now() + ttlMs;
    this.issued.set(token, entry);
    return entry.expiresAt === undefined ? { token } : { token, expiresAt: entry.expiresAt };
  }

  /** Checks a token: identity, or why not. */
  verify(token: string | undefined): AuthResult {
    const issued = token === undefined ? undefined : this.issued.get(token);
    if (issued?.expiresAt !== undefined && issued.expiresAt <= this.now())
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
    const past = this.now() - 1;
    for (const entry of this.issued.values()) entry.expiresAt = past;
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
    if (issued) return issued;
    const match = DEV_TOKEN.exec(token);
    if (match?.[1] && match[2]) return { orgId: match[1], userId: match[2] };
    return 'unauthorized';
  }
}
