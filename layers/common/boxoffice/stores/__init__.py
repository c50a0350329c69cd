"""Persistence: Postgres (events, seats, orders), DynamoDB (sessions), SQS (admission)."""
