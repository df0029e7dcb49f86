"""orders-rollup-job: revenue per day and currency, from the orders feed."""
