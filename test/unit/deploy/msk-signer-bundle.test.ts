import { createRequire } from "node:module";
import { localStackContext, samFunctions } from "@sales-stream-analytics/local-aws";
import { bundleComposition, bundleOf } from "@sales-stream-analytics/local-aws/testing";
import { generateAuthTokenFromCredentialsProvider } from "aws-msk-iam-sasl-signer-js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// The Kafka functions' bundles replace what the MSK signer requires but our call of it never runs
// (template.yaml, Alias; shared/kafka/msk-signer/). Built with those settings, the signing code
// must still make the token the unbundled signer makes, byte for byte, and the replaced paths
// must fail loudly instead of signing with something else.
const functions = samFunctions(localStackContext());
const kafkaFunctions = functions.filter((fn) => fn.buildProperties.Alias?.some((entry) => entry.startsWith("@aws-sdk/client-sts=")));
const replaced = ["@aws-sdk/client-sts", "@aws-sdk/credential-providers", "@aws-crypto/sha256-js"];

const credentials = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  sessionToken: "session-token",
};

interface SignerEntry {
  mskIamTokens(region: string): () => Promise<string>;
  generateAuthToken(options: { region: string }): Promise<{ token: string }>;
}

beforeEach(() => {
  // A profile would make the default chain skip the environment on purpose.
  vi.stubEnv("AWS_PROFILE", undefined);
  vi.stubEnv("AWS_ACCESS_KEY_ID", credentials.accessKeyId);
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", credentials.secretAccessKey);
  vi.stubEnv("AWS_SESSION_TOKEN", credentials.sessionToken);
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-12-07T10:11:12Z"));
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe("the MSK signer in the Kafka functions' bundles", () => {
  it("is configured for the functions that reach Kafka with IAM", () => {
    expect(kafkaFunctions.map((fn) => fn.logicalId).sort()).toEqual(["IngestFunction", "KafkaTopicsFunction"]);
  });

  for (const fn of kafkaFunctions) {
    it(`${fn.logicalId} holds none of the replaced packages and one SigV4 signer`, { timeout: 60_000 }, async () => {
      const { parts } = await bundleComposition(fn);
      const names = parts.map((part) => part.name);
      for (const name of replaced) expect(names, name).not.toContain(name);
      expect(names).toContain("@smithy/signature-v4");
      // The signer's nested copies (its older SigV4, its tslib) would be counted under its own name.
      expect(parts.find((part) => part.name === "aws-msk-iam-sasl-signer-js")?.bytes ?? 0).toBeLessThan(8 * 1024);
    });

    it(`${fn.logicalId}'s settings sign the token the unbundled signer signs, and refuse its default chain`, {
      timeout: 60_000,
    }, async () => {
      const entry = {
        ...fn,
        logicalId: `${fn.logicalId}-msk-signer`,
        handlerFile: "msk-signer-entry",
        buildProperties: { ...fn.buildProperties, EntryPoints: ["test/fixtures/msk-signer-entry.ts"] },
      };
      const bundle = await bundleOf(entry);
      const built = createRequire(import.meta.url)(bundle.file) as SignerEntry;

      const token = await built.mskIamTokens("eu-west-1")();
      const expected = await generateAuthTokenFromCredentialsProvider({
        region: "eu-west-1",
        awsCredentialsProvider: async () => credentials,
      });
      expect(token).toBe(expected.token);
      const url = new URL(Buffer.from(token, "base64url").toString("utf8"));
      expect(url.host).toBe("kafka.eu-west-1.amazonaws.com");
      expect(url.searchParams.get("Action")).toBe("kafka-cluster:Connect");
      expect(url.searchParams.get("X-Amz-Credential")).toBe(`${credentials.accessKeyId}/20261207/eu-west-1/kafka-cluster/aws4_request`);
      expect(url.searchParams.get("X-Amz-Security-Token")).toBe(credentials.sessionToken);
      expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);

      await expect(built.generateAuthToken({ region: "eu-west-1" })).rejects.toThrow(
        /@aws-sdk\/credential-providers \(fromNodeProviderChain\) is replaced by a stand-in/,
      );
    });
  }
});
