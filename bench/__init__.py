"""Benchmarks: `make bench` prints their figures."""

import os

# The handlers run in this process: no traces, no metrics output, warnings only.
for _name, _value in {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_name, _value)
