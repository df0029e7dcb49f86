from collections.abc import Iterator

import pytest
from orders_rollup.job import SAMPLE, rollup
from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = (SparkSession.builder.master("local[1]").appName("orders-rollup-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1").getOrCreate())
    yield session
    session.stop()


def test_revenue_per_day_and_currency_leaves_cancelled_orders_out(spark: SparkSession) -> None:
    rows = [(str(r.dt), r.currency, r.revenue, r.orders) for r in rollup(spark.read.json(str(SAMPLE))).collect()]
    assert rows == [("2026-03-09", "EUR", 25.0, 2), ("2026-03-10", "USD", 42.5, 1)]
