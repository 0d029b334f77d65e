import { randomUUID } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { parquetWriteBuffer } from "hyparquet-writer";
import type { Consumer, Kafka, KafkaMessage } from "kafkajs";
import { parseDecimal, parseJsonKeepingNumbers, parseSqlTimestamp } from "../product.ts";
import { localArn, localAws } from "../stack/settings.ts";
import type { StackContext } from "../template/intrinsics.ts";
import { physicalName, resolveValue } from "../template/intrinsics.ts";
import type { LocalFunction, LogSink } from "./lambda.ts";

/** A column of the Glue table the stream converts to. */
export interface TableColumn {
  readonly name: string;
  readonly type: string;
}

/** An MSK-sourced delivery stream of template.yaml, as the emulator needs it. */
export interface FirehoseStream {
  readonly name: string;
  readonly arn: string;
  readonly topic: string;
  /** Whether reading starts at the topic's earliest record (ReadFromTimestamp at the epoch) or at its end (Firehose's default). */
  readonly fromBeginning: boolean;
  readonly transformFunctionId: string | undefined;
  readonly transformBufferBytes: number;
  readonly transformIntervalMs: number;
  readonly bufferBytes: number;
  readonly bufferIntervalMs: number;
  readonly bucket: string;
  readonly prefix: string;
  readonly errorPrefix: string;
  readonly columns: readonly TableColumn[];
  /** The ParquetSerDe's settings that shape the file (its defaults when the template leaves them out). */
  readonly parquet: ParquetSettings;
}

/**
 * What the template's ParquetSerDe sets, with AWS's documented defaults
 * (https://docs.aws.amazon.com/firehose/latest/APIReference/API_ParquetSerDe.html): SNAPPY, 1 MiB
 * pages, writer version V1. hyparquet-writer writes only V2 data pages, so V1 is the one
 * documented setting the local files do not follow (docs/lake.md); readers take both.
 */
export interface ParquetSettings {
  readonly compression: "SNAPPY" | "GZIP" | "UNCOMPRESSED";
  readonly pageSizeBytes: number;
  readonly writerVersion: "V1" | "V2";
}

type Props = Record<string, unknown>;

/** The template's MSKAsSource delivery streams with Parquet conversion. Throws naming what is missing. */
export function firehoseStreams(ctx: StackContext): FirehoseStream[] {
  return Object.entries(ctx.template.Resources)
    .filter(([, r]) => r.Type === "AWS::KinesisFirehose::DeliveryStream")
    .map(([id, resource]) => {
      const props = resolveValue(ctx, resource.Properties ?? {}, `Resources.${id}.Properties`) as Props;
      if (props.DeliveryStreamType !== "MSKAsSource") throw new Error(`${id}: only MSKAsSource streams are emulated`);
      const s3 = props.ExtendedS3DestinationConfiguration as Props;
      const raw = (resource.Properties?.ExtendedS3DestinationConfiguration as Props | undefined)?.ProcessingConfiguration as
        | Props
        | undefined;
      const rawParams = ((raw?.Processors as Props[] | undefined)?.[0]?.Parameters as Props[] | undefined) ?? [];
      const lambdaRef = rawParams.find((p) => p.ParameterName === "LambdaArn")?.ParameterValue as
        | { "Fn::GetAtt"?: [string, string] }
        | undefined;
      const params =
        (((s3.ProcessingConfiguration as Props | undefined)?.Processors as Props[] | undefined)?.[0]?.Parameters as Props[] | undefined) ??
        [];
      const param = (name: string, fallback: number) => Number(params.find((p) => p.ParameterName === name)?.ParameterValue ?? fallback);
      const hints = (s3.BufferingHints as Props | undefined) ?? {};
      const conversion = s3.DataFormatConversionConfiguration as Props;
      const schema = conversion.SchemaConfiguration as Props;
      const tableId = Object.keys(ctx.template.Resources).find(
        (candidate) => ctx.template.Resources[candidate]?.Type === "AWS::Glue::Table" && physicalName(ctx, candidate) === schema.TableName,
      );
      if (tableId === undefined) throw new Error(`${id}: Glue table ${String(schema.TableName)} is not in the template`);
      const table = resolveValue(ctx, ctx.template.Resources[tableId]?.Properties ?? {}, tableId) as {
        TableInput: { StorageDescriptor: { Columns: { Name: string; Type: string }[] } };
      };
      const serializer = ((conversion.OutputFormatConfiguration as Props).Serializer as Props).ParquetSerDe as Props | undefined;
      return {
        name: physicalName(ctx, id),
        arn: `arn:aws:firehose:${ctx.region}:${ctx.accountId}:deliverystream/${physicalName(ctx, id)}`,
        topic: String((props.MSKSourceConfiguration as Props).TopicName),
        fromBeginning: readsFromBeginning(id, (props.MSKSourceConfiguration as Props).ReadFromTimestamp),
        transformFunctionId: lambdaRef?.["Fn::GetAtt"]?.[0],
        transformBufferBytes: param("BufferSizeInMBs", 1) * 1024 * 1024,
        transformIntervalMs: param("BufferIntervalInSeconds", 60) * 1000,
        bufferBytes: Number(hints.SizeInMBs ?? 128) * 1024 * 1024,
        bufferIntervalMs: Number(hints.IntervalInSeconds ?? 300) * 1000,
        bucket: String(s3.BucketARN).split(":::")[1] ?? "",
        prefix: String(s3.Prefix ?? ""),
        errorPrefix: String(s3.ErrorOutputPrefix ?? "errors/"),
        columns: table.TableInput.StorageDescriptor.Columns.map((c) => ({ name: c.Name, type: c.Type.toLowerCase() })),
        parquet: {
          compression: (serializer?.Compression as ParquetSettings["compression"] | undefined) ?? "SNAPPY",
          pageSizeBytes: Number(serializer?.PageSizeBytes ?? 1024 * 1024),
          writerVersion: (serializer?.WriterVersion as ParquetSettings["writerVersion"] | undefined) ?? "V1",
        },
      };
    });
}

/** The Kafka consumer group the emulator reads a stream's topic with. Never throws. */
export const firehoseGroupId = (stream: FirehoseStream): string => `firehose-${stream.name}`;

/**
 * Firehose reads from the time the stream becomes active unless ReadFromTimestamp says otherwise;
 * the epoch means the earliest record. Other instants are not emulated: throws naming the stream.
 */
function readsFromBeginning(id: string, readFrom: unknown): boolean {
  if (readFrom === undefined) return false;
  if (Date.parse(String(readFrom)) === 0) return true;
  throw new Error(`${id}: MSKSourceConfiguration.ReadFromTimestamp "${String(readFrom)}" is not emulated (only the epoch, or none)`);
}

interface Buffered {
  readonly partition: number;
  readonly offset: string;
  readonly arrival: number;
  readonly value: Buffer;
}

interface TransformedRecord {
  readonly recordId: string;
  readonly result: "Ok" | "ProcessingFailed" | "Dropped";
  readonly kafkaRecordValue?: string;
  readonly metadata?: { readonly partitionKeys?: Record<string, string> };
}

export interface FirehoseStats {
  /** Records read from the topic. */
  recordsRead: number;
  /** Bytes of those records' values: what Firehose meters as ingested from an MSK source. */
  bytesRead: number;
  invocations: number;
  recordsIn: number;
  rowsWritten: number;
  failedRecords: number;
  objects: number;
  /** Bytes of the objects written to S3 (Parquet and error records). */
  bytesDelivered: number;
  /** Bytes of the transform's Ok records, before conversion: what format conversion meters. */
  bytesConverted: number;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");
const utcParts = (ms: number) => {
  const d = new Date(ms);
  return {
    yyyy: String(d.getUTCFullYear()),
    MM: pad(d.getUTCMonth() + 1),
    dd: pad(d.getUTCDate()),
    HH: pad(d.getUTCHours()),
    mm: pad(d.getUTCMinutes()),
    ss: pad(d.getUTCSeconds()),
  };
};

/** Expands !{timestamp:...}, !{partitionKeyFromLambda:k} and !{firehose:...} in a prefix. */
export function expandPrefix(prefix: string, at: number, keys: Readonly<Record<string, string>>, errorType = "processing-failed"): string {
  const parts = utcParts(at);
  return prefix.replace(/!\{([^:}]+):([^}]+)\}/g, (whole, namespace: string, arg: string) => {
    if (namespace === "timestamp") return arg.replace(/yyyy|MM|dd|HH|mm|ss/g, (token) => parts[token as keyof typeof parts]);
    if (namespace === "partitionKeyFromLambda") {
      const value = keys[arg];
      if (value === undefined) throw new Error(`prefix needs partition key "${arg}", which the transform did not return`);
      return value;
    }
    if (namespace === "firehose" && arg === "error-output-type") return errorType;
    if (namespace === "firehose" && arg === "random-string") return randomUUID().slice(0, 8);
    throw new Error(`prefix expression ${whole} is not supported locally`);
  });
}

/** Parquet schema element and value converter for a Glue/Hive column type. */
function parquetColumn(column: TableColumn): { element: Record<string, unknown>; convert: (value: unknown) => unknown } {
  const decimal = /^decimal\((\d+),(\d+)\)$/.exec(column.type);
  const base = { name: column.name, repetition_type: "OPTIONAL" };
  if (decimal !== null) {
    const precision = Number(decimal[1]);
    const scale = Number(decimal[2]);
    if (precision > 18) throw new Error(`column ${column.name}: decimal precision above 18 is not emulated`);
    return {
      element: { ...base, type: "INT64", converted_type: "DECIMAL", precision, scale, logical_type: { type: "DECIMAL", precision, scale } },
      convert: (v) => (v === null || v === undefined ? null : parseDecimal(String(v), scale, precision).unscaled),
    };
  }
  switch (column.type) {
    case "bigint":
      return { element: { ...base, type: "INT64" }, convert: (v) => (v === null || v === undefined ? null : BigInt(v as number)) };
    case "int":
      return { element: { ...base, type: "INT32" }, convert: (v) => (v === null || v === undefined ? null : Number(v)) };
    case "string":
      return {
        element: { ...base, type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" } },
        convert: (v) => (v === null || v === undefined ? null : String(v)),
      };
    case "timestamp":
      return {
        element: {
          ...base,
          type: "INT64",
          converted_type: "TIMESTAMP_MILLIS",
          logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
        },
        convert: (v) => (v === null || v === undefined ? null : BigInt(typeof v === "number" ? v : parseSqlTimestamp(String(v)))),
      };
    case "boolean":
      return { element: { ...base, type: "BOOLEAN" }, convert: (v) => (v === null || v === undefined ? null : Boolean(v)) };
    case "double":
      return { element: { ...base, type: "DOUBLE" }, convert: (v) => (v === null || v === undefined ? null : Number(v)) };
    default:
      throw new Error(`column ${column.name}: type ${column.type} is not emulated`);
  }
}

/**
 * Rows as a Parquet file by the table's columns (fields not in the table are dropped, as Firehose
 * does), in one row group: Firehose's row groups are as large as BlockSizeBytes (64 MiB at least,
 * 256 MiB by default), more than one S3 buffer (at most 128 MiB of JSON) fills.
 */
export function toParquet(
  rows: readonly Record<string, unknown>[],
  columns: readonly TableColumn[],
  settings: Pick<ParquetSettings, "compression"> & Partial<ParquetSettings> = { compression: "SNAPPY" },
): Buffer {
  const converters = columns.map(parquetColumn);
  const schema = [{ name: "root", num_children: columns.length }, ...converters.map((c) => c.element)];
  const columnData = columns.map((column, i) => ({
    name: column.name,
    data: rows.map((row) => (converters[i] as ReturnType<typeof parquetColumn>).convert(row[column.name])),
  }));
  return Buffer.from(
    parquetWriteBuffer({
      schema: schema as never,
      columnData: columnData as never,
      codec: settings.compression,
      rowGroupSize: Math.max(1, rows.length),
      pageSize: settings.pageSizeBytes ?? 1024 * 1024,
    }),
  );
}

/**
 * Firehose with an MSK source, emulated from the template's delivery stream: its own consumer
 * group on the topic, the transform invoked with the MSK-source event when its buffer (size or
 * interval) fills, Ok records converted to Parquet by the Glue table's columns and types and
 * written to S3 under the stream's prefix when the S3 buffer fills, ProcessingFailed records
 * written under the error prefix in Firehose's error record format. Offsets are committed only
 * after what they cover is in S3, so the local path neither loses nor duplicates rows.
 */
export class FirehoseEmulator {
  readonly stream: FirehoseStream;
  readonly stats: FirehoseStats = {
    recordsRead: 0,
    bytesRead: 0,
    invocations: 0,
    recordsIn: 0,
    rowsWritten: 0,
    failedRecords: 0,
    objects: 0,
    bytesDelivered: 0,
    bytesConverted: 0,
  };
  readonly #consumer: Consumer;
  readonly #fn: LocalFunction | undefined;
  readonly #s3: S3Client;
  readonly #log: LogSink;
  readonly #decimalColumns: string[];
  #pending: Buffered[] = [];
  #pendingBytes = 0;
  #pendingSince = 0;
  #rows = new Map<string, Record<string, unknown>[]>();
  #errors = new Map<string, string[]>();
  #bufferedBytes = 0;
  #bufferedSince = 0;
  #uncommitted = new Map<number, bigint>();
  /** Highest offset buffered per partition: a consumer restart re-reads from the last commit, which may be older. */
  #buffered = new Map<number, bigint>();
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> = Promise.resolve();
  #running = false;

  /** `readUncommitted` (default true, Kafka's default) is the isolation level it reads with. */
  constructor(
    stream: FirehoseStream,
    fn: LocalFunction | undefined,
    kafka: Kafka,
    s3: S3Client,
    log: LogSink,
    { readUncommitted = true } = {},
  ) {
    this.stream = stream;
    this.#fn = fn;
    this.#s3 = s3;
    this.#log = log;
    this.#decimalColumns = stream.columns.filter((c) => c.type.startsWith("decimal")).map((c) => c.name);
    // read_uncommitted, Kafka's default: AWS documents no isolation level for Firehose's MSK source.
    // Restarted after a crash only while running (see KafkaEventSourceMapping: a stop racing a crash).
    this.#consumer = kafka.consumer({
      groupId: firehoseGroupId(stream),
      maxWaitTimeInMs: 500,
      readUncommitted,
      retry: { restartOnFailure: async () => this.#running },
    });
  }

  async start(): Promise<void> {
    this.#running = true;
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic: this.stream.topic, fromBeginning: this.stream.fromBeginning });
    await this.#consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) this.#buffer(batch.partition, message);
        if (this.#pendingBytes >= this.stream.transformBufferBytes) await this.#serially(() => this.#transform());
        if (this.#bufferedBytes >= this.stream.bufferBytes) await this.#serially(() => this.#deliver());
      },
    });
    this.#timer = setInterval(() => {
      const now = Date.now();
      if (this.#pending.length > 0 && now - this.#pendingSince >= this.stream.transformIntervalMs)
        void this.#serially(() => this.#transform());
      if (this.#bufferedSince > 0 && now - this.#bufferedSince >= this.stream.bufferIntervalMs) void this.#serially(() => this.#deliver());
    }, 250);
  }

  #buffer(partition: number, message: KafkaMessage): void {
    if (message.value === null) return;
    const offset = BigInt(message.offset);
    if (offset <= (this.#buffered.get(partition) ?? -1n)) return;
    this.#buffered.set(partition, offset);
    this.stats.recordsRead++;
    this.stats.bytesRead += message.value.length;
    if (this.#pending.length === 0) this.#pendingSince = Date.now();
    this.#pending.push({ partition, offset: message.offset, arrival: Number(message.timestamp), value: message.value });
    this.#pendingBytes += message.value.length;
  }

  #serially(work: () => Promise<void>): Promise<void> {
    const next = this.#busy.then(work).catch((error: unknown) => this.#log(this.stream.name, `[firehose] ${(error as Error).message}`));
    this.#busy = next;
    return next;
  }

  /** Sends the transform buffer through the Lambda and sorts the results into the S3 buffers. */
  async #transform(): Promise<void> {
    const records = this.#pending;
    if (records.length === 0) return;
    this.#pending = [];
    this.#pendingBytes = 0;
    const ids = records.map(() => randomUUID());
    const event = {
      invocationId: randomUUID(),
      deliveryStreamArn: this.stream.arn,
      sourceMSKArn: localArn("kafka", "cluster/local/local"),
      region: localAws.region,
      records: records.map((r, i) => ({
        recordId: ids[i],
        approximateArrivalTimestamp: r.arrival,
        mskRecordMetadata: { offset: r.offset, partitionId: String(r.partition), approximateArrivalTimestamp: r.arrival },
        kafkaRecordValue: r.value.toString("base64"),
      })),
    };
    let response: { records: TransformedRecord[] } | undefined;
    let failure = "";
    for (let attempt = 0; attempt < 4 && response === undefined; attempt++) {
      if (this.#fn === undefined) {
        response = {
          records: event.records.map((r) => ({ recordId: r.recordId as string, result: "Ok", kafkaRecordValue: r.kafkaRecordValue })),
        };
        break;
      }
      this.stats.invocations++;
      const outcome = await this.#fn.invoke(event);
      if (outcome.ok) response = outcome.result as { records: TransformedRecord[] };
      else failure = `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
    }
    const now = Date.now();
    const byId = new Map((response?.records ?? []).map((r) => [r.recordId, r]));
    records.forEach((record, i) => {
      this.stats.recordsIn++;
      const result = byId.get(ids[i] as string);
      if (result?.result === "Ok") {
        const keys = result.metadata?.partitionKeys ?? {};
        const prefix = expandPrefix(this.stream.prefix, record.arrival, keys);
        const text = Buffer.from(result.kafkaRecordValue ?? "", "base64").toString("utf8");
        for (const line of text.split("\n")) {
          if (line.trim() === "") continue;
          const rows = this.#rows.get(prefix) ?? [];
          // Numbers of decimal columns are kept as their exact text.
          rows.push(parseJsonKeepingNumbers(line, this.#decimalColumns) as Record<string, unknown>);
          this.#rows.set(prefix, rows);
        }
        this.#bufferedBytes += text.length;
        this.stats.bytesConverted += Buffer.byteLength(text, "utf8");
      } else if (result?.result !== "Dropped") {
        const errorCode =
          result === undefined ? (response === undefined ? "Lambda.InvokeFailure" : "Lambda.MissingRecordId") : "Lambda.ProcessingFailed";
        const reason = result?.metadata?.partitionKeys?.error;
        const errorMessage =
          result === undefined
            ? failure || "the transform returned no result for this record"
            : `The Lambda function returned ProcessingFailed${reason === undefined ? "" : `: ${reason}`}`;
        const prefix = expandPrefix(this.stream.errorPrefix, now, {}, "processing-failed");
        const lines = this.#errors.get(prefix) ?? [];
        lines.push(
          JSON.stringify({
            attemptsMade: 1,
            arrivalTimestamp: record.arrival,
            errorCode,
            errorMessage,
            attemptEndingTimestamp: now,
            rawData: record.value.toString("base64"),
            lambdaArn: localArn("lambda", `function:${this.stream.transformFunctionId}`),
          }),
        );
        this.#errors.set(prefix, lines);
        this.stats.failedRecords++;
      }
      const committed = this.#uncommitted.get(record.partition) ?? -1n;
      if (BigInt(record.offset) > committed) this.#uncommitted.set(record.partition, BigInt(record.offset));
    });
    if (this.#bufferedSince === 0) this.#bufferedSince = now;
  }

  /** Writes the S3 buffers (Parquet per prefix, error records as JSON lines), then commits their offsets. */
  async #deliver(): Promise<void> {
    const rows = this.#rows;
    const errors = this.#errors;
    const offsets = this.#uncommitted;
    this.#rows = new Map();
    this.#errors = new Map();
    this.#uncommitted = new Map();
    this.#bufferedBytes = 0;
    this.#bufferedSince = 0;
    const stamp = () => {
      const p = utcParts(Date.now());
      return `${this.stream.name}-1-${p.yyyy}-${p.MM}-${p.dd}-${p.HH}-${p.mm}-${p.ss}-${randomUUID()}`;
    };
    for (const [prefix, batch] of rows) {
      const body = toParquet(batch, this.stream.columns, this.stream.parquet);
      await this.#s3.send(new PutObjectCommand({ Bucket: this.stream.bucket, Key: `${prefix}${stamp()}.parquet`, Body: body }));
      this.stats.rowsWritten += batch.length;
      this.stats.objects++;
      this.stats.bytesDelivered += body.length;
    }
    for (const [prefix, lines] of errors) {
      const body = `${lines.join("\n")}\n`;
      await this.#s3.send(new PutObjectCommand({ Bucket: this.stream.bucket, Key: `${prefix}${stamp()}`, Body: body }));
      this.stats.objects++;
      this.stats.bytesDelivered += Buffer.byteLength(body, "utf8");
    }
    if (offsets.size > 0) {
      await this.#consumer.commitOffsets(
        [...offsets].map(([partition, offset]) => ({ topic: this.stream.topic, partition, offset: (offset + 1n).toString() })),
      );
    }
  }

  /** Transforms and delivers everything read so far, now (tests and shutdown). */
  async flush(): Promise<void> {
    await this.#serially(async () => {
      await this.#transform();
      await this.#deliver();
    });
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#timer);
    await this.flush();
    await this.#consumer.disconnect();
  }
}
