import type { Schema } from "#shared/avro/avsc";

/** A column of the lake's Glue table: name and Hive/Glue type ("bigint", "decimal(10,2)", ...). */
export interface LakeColumn {
  readonly name: string;
  readonly type: string;
}

interface AvroField {
  readonly name: string;
  readonly type: unknown;
}

function glueTypeOf(type: unknown, field: string): string {
  if (Array.isArray(type)) {
    const branches = type.filter((branch) => branch !== "null");
    if (branches.length !== 1) throw new Error(`field ${field}: only unions of null and one type map to a lake column`);
    return glueTypeOf(branches[0], field);
  }
  if (typeof type === "object" && type !== null) {
    const t = type as { type: string; logicalType?: string; precision?: number; scale?: number };
    if (t.logicalType === "decimal") return `decimal(${t.precision},${t.scale ?? 0})`;
    if (t.logicalType === "timestamp-millis" || t.logicalType === "timestamp-micros") return "timestamp";
    if (t.logicalType === "date") return "date";
    return glueTypeOf(t.type, field);
  }
  const primitive: Record<string, string> = {
    long: "bigint",
    int: "int",
    string: "string",
    boolean: "boolean",
    double: "double",
    float: "float",
    bytes: "binary",
  };
  const mapped = primitive[String(type)];
  if (mapped === undefined) throw new Error(`field ${field}: Avro type ${JSON.stringify(type)} has no lake column type`);
  return mapped;
}

/** Kafka coordinates kept with every row, so a lake reader can find duplicates and trace records. */
export const kafkaColumns: readonly LakeColumn[] = [
  { name: "kafka_partition", type: "int" },
  { name: "kafka_offset", type: "bigint" },
];

/** The lake's partition column: the sale's event date (UTC), as the transform's partition key. */
export const partitionColumn: LakeColumn = { name: "dt", type: "string" };

/** Columns of the lake table for an Avro record schema (the current reader schema), then the Kafka columns. */
export function lakeColumns(readerSchema: Schema): LakeColumn[] {
  const fields = (readerSchema as { fields?: AvroField[] }).fields ?? [];
  return [...fields.map((field) => ({ name: field.name, type: glueTypeOf(field.type, field.name) })), ...kafkaColumns];
}
