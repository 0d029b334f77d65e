"""Reads Parquet files of the lake with pyarrow and DuckDB; prints what the tests compare, as JSON.

usage: read_lake.py FILE...
"""
import json
import sys

import duckdb
import pyarrow.parquet as pq

files = sys.argv[1:]
schema = pq.read_schema(files[0])
rows = []
for path in files:
    for row in pq.read_table(path).to_pylist():
        rows.append({
            "payment_id": row["payment_id"],
            "amount": str(row["amount"]),
            "payment_date_ms": int(row["payment_date"].timestamp() * 1000),
            "country": row["country"],
            "city": row["city"],
            "channel": row["channel"],
            "kafka_partition": row["kafka_partition"],
            "kafka_offset": row["kafka_offset"],
        })
listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
totals = duckdb.sql(
    f"select count(*), count(distinct payment_id), sum(amount)::varchar, typeof(sum(amount)) from read_parquet([{listing}])"
).fetchall()[0]
print(json.dumps({
    "columns": {field.name: str(field.type) for field in schema},
    "compression": pq.ParquetFile(files[0]).metadata.row_group(0).column(0).compression,
    "rows": rows,
    "duckdb": {"rows": totals[0], "distinct_payment_ids": totals[1], "sum_amount": totals[2], "sum_type": totals[3]},
}))
