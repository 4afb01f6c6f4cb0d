import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption of small secrets at rest (a job's `secretEnv`), with AES-256-GCM from
 * node:crypto, under the operator's key (VMO_SECRET_KEY: 32 bytes as 64 hex characters).
 *
 * The key is never used as it is: HKDF-SHA256 derives one subkey to encrypt, one to compute
 * digests (the Idempotency-Key request hash of a body with secrets) and one short key id, so no
 * primitive shares a key with another and a sealed value can say which key sealed it.
 *
 * A sealed value is `01 · key id (8) · IV (12, random per seal) · ciphertext · tag (16)`. The
 * `context` (for a job's secrets, its id) is authenticated with it: a sealed value copied onto
 * another job does not open there.
 */
export const SECRET_KEY_BYTES = 32;
const VERSION = 0x01;
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + IV_BYTES;

/** Why a sealed value did not open. The message names keys by id only, never by value. */
export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
  constructor(
    readonly reason: 'other_key' | 'not_authentic' | 'unknown_format',
    message: string,
  ) {
    super(message);
  }
}

export class SecretBox {
  /** 16 hex characters naming the key (derived from it; reveals nothing of it). */
  readonly keyId: string;
  private readonly keyIdBytes: Buffer;
  private readonly encryptionKey: Buffer;
  private readonly digestKey: Buffer;

  constructor(key: Buffer) {
    if (key.length !== SECRET_KEY_BYTES) throw new Error(`a secret key is ${SECRET_KEY_BYTES} bytes`);
    const derive = (info: string, length: number) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `vmo ${info}`, length));
    this.encryptionKey = derive('secret box aes-256-gcm v1', 32);
    this.digestKey = derive('secret box digest v1', 32);
    this.keyIdBytes = derive('secret box key id v1', KEY_ID_BYTES);
    this.keyId = this.keyIdBytes.toString('hex');
  }

  /** From VMO_SECRET_KEY as validated by the configuration (64 hex characters). */
  static fromHex(hex: string): SecretBox {
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error('a secret key is 64 hexadecimal characters');
    return new SecretBox(Buffer.from(hex, 'hex'));
  }

  seal(plaintext: Buffer, context: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const header = Buffer.concat([Buffer.from([VERSION]), this.keyIdBytes, iv]);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(header, context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  }

  /** The plaintext, or SecretBoxError when it was sealed under another key, for another context, or altered. */
  open(sealed: Buffer, context: string): Buffer {
    if (sealed.length < HEADER_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
      throw new SecretBoxError('unknown_format', 'the sealed value is not in a format this version reads');
    }
    const keyId = sealed.subarray(1, 1 + KEY_ID_BYTES);
    if (!keyId.equals(this.keyIdBytes)) {
      throw new SecretBoxError('other_key', `sealed under another VMO_SECRET_KEY (key id ${keyId.toString('hex')}; this process has ${this.keyId})`);
    }
    const header = sealed.subarray(0, HEADER_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, sealed.subarray(1 + KEY_ID_BYTES, HEADER_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(header, context));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SecretBoxError('not_authentic', 'the sealed value does not authenticate (altered, truncated, or sealed for something else)');
    }
  }

  /**
   * A keyed digest (HMAC-SHA256, hex): stands in for secret values where a plain hash would be
   * stored (a short secret's SHA-256 can be found by trying candidates; this one needs the key).
   */
  digest(data: string | Buffer, context: string): string {
    return createHmac('sha256', this.digestKey).update(context).update('\0').update(data).digest('hex');
  }
}

const aad = (header: Buffer, context: string) => Buffer.concat([header, Buffer.from(context, 'utf8')]);
