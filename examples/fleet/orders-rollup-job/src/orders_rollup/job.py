"""The rollup: orders in (JSON lines), revenue per (day, currency) out (Parquet, partitioned by day)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

SAMPLE = Path(__file__).with_name("sample_orders.jsonl")


def rollup(orders: DataFrame) -> DataFrame:
    """Revenue and order count per day and currency; cancelled orders do not count."""
    return (orders.where(F.col("status") != "cancelled")
            .groupBy(F.to_date("created_at").alias("dt"), "currency")
            .agg(F.round(F.sum("amount"), 2).alias("revenue"), F.count("*").alias("orders"))
            .orderBy("dt", "currency"))


def main() -> None:
    """Read ORDERS_PATH (default: the bundled sample), write the rollup to OUTPUT_PATH (default: a new temp dir)."""
    source = os.environ.get("ORDERS_PATH", str(SAMPLE))
    target = os.environ.get("OUTPUT_PATH") or tempfile.mkdtemp(prefix="orders-rollup-")
    spark = (SparkSession.builder.appName("orders-rollup-job").master(os.environ.get("SPARK_MASTER", "local[1]"))
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1").getOrCreate())
    try:
        result = rollup(spark.read.json(source))
        result.write.mode("overwrite").partitionBy("dt").parquet(target)
        print(f"orders-rollup-job: {result.count()} rows written to {target}", flush=True)
    finally:
        spark.stop()
