import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === "string"
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/**
 * Replaces @aws-crypto/sha256-js in the Kafka functions' bundles (template.yaml, Alias): the MSK
 * signer hands its SigV4 signer that pure-JavaScript SHA-256 (with its own tslib); this is the same
 * contract (SHA-256, or HMAC-SHA-256 with a secret) on Node's native crypto, as the SDK's own
 * clients sign on Node. SigV4 digests each hash once: a second digest() of an HMAC, or an
 * update() after it, throws here as Node's does (sha256-js would answer again).
 */
export class Sha256 {
  readonly #secret: SourceData | undefined;
  #hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#secret = secret;
    this.#hash = this.#fresh();
  }

  update(data: SourceData): void {
    this.#hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    // A plain hash may be read and then updated further (the SDK's contract); an HMAC is done.
    const digest = this.#secret === undefined ? (this.#hash as Hash).copy().digest() : this.#hash.digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  }

  reset(): void {
    this.#hash = this.#fresh();
  }

  #fresh(): Hash | Hmac {
    return this.#secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(this.#secret));
  }
}
