package harness;

import com.amazonaws.services.schemaregistry.deserializers.GlueSchemaRegistryKafkaDeserializer;
import com.amazonaws.services.schemaregistry.serializers.GlueSchemaRegistryKafkaSerializer;
import com.amazonaws.services.schemaregistry.utils.AWSSchemaRegistryConstants;
import com.amazonaws.services.schemaregistry.utils.AvroRecordType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

/**
 * Drives the official Glue Schema Registry serde over stdin/stdout, one record a line.
 *
 *   encode ENDPOINT REGION REGISTRY SCHEMA_NAME SCHEMA_FILE NONE|ZLIB : JSON sales in, hex frames out
 *   decode ENDPOINT REGION                                           : hex frames in, JSON sales out
 *
 * Decimals travel as plain strings and timestamps as epoch milliseconds, as the TypeScript codec has them.
 */
public final class Harness {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TOPIC = "sales";

  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    Map<String, Object> config = new HashMap<>();
    config.put(AWSSchemaRegistryConstants.AWS_ENDPOINT, args[1]);
    config.put(AWSSchemaRegistryConstants.AWS_REGION, args[2]);
    switch (args[0]) {
      case "encode" -> encode(args, config, in, out);
      case "decode" -> decode(config, in, out);
      default -> throw new IllegalArgumentException("unknown command " + args[0]);
    }
  }

  private static void encode(String[] args, Map<String, Object> config, BufferedReader in, PrintStream out) throws Exception {
    Schema schema = new Schema.Parser().parse(Files.readString(Path.of(args[5])));
    config.put(AWSSchemaRegistryConstants.REGISTRY_NAME, args[3]);
    config.put(AWSSchemaRegistryConstants.SCHEMA_NAME, args[4]);
    config.put(AWSSchemaRegistryConstants.DATA_FORMAT, "AVRO");
    config.put(AWSSchemaRegistryConstants.COMPRESSION_TYPE, args[6]);
    config.put(AWSSchemaRegistryConstants.SCHEMA_AUTO_REGISTRATION_SETTING, false);
    try (GlueSchemaRegistryKafkaSerializer serializer = new GlueSchemaRegistryKafkaSerializer(config)) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isBlank()) continue;
        byte[] frame = serializer.serialize(TOPIC, toRecord(schema, JSON.readTree(line)));
        out.println(HexFormat.of().formatHex(frame));
      }
    }
  }

  private static GenericRecord toRecord(Schema schema, JsonNode sale) {
    GenericRecord record = new GenericData.Record(schema);
    for (Schema.Field field : schema.getFields()) {
      JsonNode value = sale.get(field.name());
      if (value == null || value.isNull()) {
        record.put(field.name(), null);
      } else if (field.schema().getLogicalType() instanceof LogicalTypes.Decimal decimal) {
        BigDecimal amount = new BigDecimal(value.asText()).setScale(decimal.getScale());
        record.put(field.name(), ByteBuffer.wrap(amount.unscaledValue().toByteArray()));
      } else if (field.schema().getType() == Schema.Type.LONG) {
        record.put(field.name(), value.asLong());
      } else {
        record.put(field.name(), value.asText());
      }
    }
    return record;
  }

  private static void decode(Map<String, Object> config, BufferedReader in, PrintStream out) throws Exception {
    config.put(AWSSchemaRegistryConstants.AVRO_RECORD_TYPE, AvroRecordType.GENERIC_RECORD.getName());
    try (GlueSchemaRegistryKafkaDeserializer deserializer = new GlueSchemaRegistryKafkaDeserializer(config)) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isBlank()) continue;
        GenericRecord record = (GenericRecord) deserializer.deserialize(TOPIC, HexFormat.of().parseHex(line.trim()));
        out.println(JSON.writeValueAsString(toJson(record)));
      }
    }
  }

  private static ObjectNode toJson(GenericRecord record) {
    ObjectNode node = JSON.createObjectNode();
    for (Schema.Field field : record.getSchema().getFields()) {
      Object value = record.get(field.name());
      Schema fieldSchema = field.schema();
      if (value == null) {
        node.putNull(field.name());
      } else if (fieldSchema.getLogicalType() instanceof LogicalTypes.Decimal decimal) {
        ByteBuffer bytes = ((ByteBuffer) value).duplicate();
        byte[] unscaled = new byte[bytes.remaining()];
        bytes.get(unscaled);
        node.put(field.name(), new BigDecimal(new BigInteger(unscaled), decimal.getScale()).toPlainString());
      } else if (value instanceof Long number) {
        node.put(field.name(), number);
      } else {
        node.put(field.name(), value.toString());
      }
    }
    return node;
  }

  private Harness() {}
}
