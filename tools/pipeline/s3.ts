import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

/** Every key under a prefix (all pages). */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key as string));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys;
}

/** Downloads objects into a fresh temporary folder; returns the local file paths in key order. */
export async function downloadAll(s3: S3Client, bucket: string, keys: readonly string[], extension = ".parquet"): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "lake-"));
  return Promise.all(
    keys.map(async (key, i) => {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const file = join(dir, `${i}${extension}`);
      writeFileSync(file, await (object.Body?.transformToByteArray() ?? new Uint8Array()));
      return file;
    }),
  );
}

/** The text of an object. */
export async function readText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body?.transformToString()) ?? "";
}
