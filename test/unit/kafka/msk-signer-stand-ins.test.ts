import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { GetCallerIdentityCommand, STSClient } from "#shared/kafka/msk-signer/client-sts";
import { fromIni, fromNodeProviderChain, fromTemporaryCredentials } from "#shared/kafka/msk-signer/credential-providers";
import { Sha256 } from "#shared/kafka/msk-signer/sha256";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("the MSK signer's stand-ins", () => {
  it("throw naming the package, the export and the way to sign instead", () => {
    expect(() => new STSClient()).toThrow(/^@aws-sdk\/client-sts \(STSClient\) is replaced by a stand-in.*mskIamTokens/);
    expect(() => new GetCallerIdentityCommand()).toThrow(/@aws-sdk\/client-sts \(GetCallerIdentityCommand\)/);
    expect(() => fromIni()).toThrow(/@aws-sdk\/credential-providers \(fromIni\)/);
    expect(() => fromTemporaryCredentials()).toThrow(/@aws-sdk\/credential-providers \(fromTemporaryCredentials\)/);
    expect(() => fromNodeProviderChain()).toThrow(/@aws-sdk\/credential-providers \(fromNodeProviderChain\)/);
  });
});

describe("the signer's SHA-256 on Node's crypto", () => {
  it("hashes strings and bytes in pieces, and may be read and then fed further", async () => {
    const hash = new Sha256();
    hash.update("kafka-");
    hash.update(new TextEncoder().encode("cluster"));
    expect(hex(await hash.digest())).toBe(createHash("sha256").update("kafka-cluster").digest("hex"));
    hash.update(new Uint8Array([0x21]).buffer);
    expect(hex(await hash.digest())).toBe(createHash("sha256").update("kafka-cluster!").digest("hex"));
  });

  it("computes an HMAC with a string or byte secret, and starts afresh on reset", async () => {
    const key = new Uint8Array([1, 2, 3, 250]);
    const hmac = new Sha256(key.subarray(1));
    hmac.update("to sign");
    expect(hex(await hmac.digest())).toBe(
      createHmac("sha256", Buffer.from([2, 3, 250]))
        .update("to sign")
        .digest("hex"),
    );
    hmac.reset();
    hmac.update("again");
    expect(hex(await hmac.digest())).toBe(
      createHmac("sha256", Buffer.from([2, 3, 250]))
        .update("again")
        .digest("hex"),
    );
    const named = new Sha256("AWS4secret");
    named.update("20261207");
    expect(hex(await named.digest())).toBe(createHmac("sha256", "AWS4secret").update("20261207").digest("hex"));
  });
});
