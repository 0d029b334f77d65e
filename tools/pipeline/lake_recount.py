"""Recounts the lake with DuckDB, straight from Parquet: orders and sales per country and minute.

usage: lake_recount.py COUNTRIES_JSON FILE...   (prints JSON rows)
"""
import json
import sys

import duckdb

countries = json.loads(sys.argv[1])
files = sys.argv[2:]
listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
rows = duckdb.execute(
    f"""
    select country,
           epoch_ms(date_trunc('minute', payment_date))::bigint as window_start,
           count(*) as orders,
           sum(amount)::varchar as sales,
           count(distinct payment_id) as distinct_payments
    from read_parquet([{listing}])
    where country in (select unnest(?::varchar[]))
    group by all
    order by all
    """,
    [countries],
).fetchall()
print(json.dumps([{"country": r[0], "start": r[1], "orders": r[2], "sales": r[3], "distinct": r[4]} for r in rows]))
