"""pricing-service: quotes prices and writes each quote to Kafka."""
