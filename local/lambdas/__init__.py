"""Lambda-like execution: per function, a pool of warm worker processes.

Each worker (local/lambda_worker.py) imports its function's module once and runs one
invocation at a time. A function gets new instances on demand, up to a cap; further
callers wait for a free one. An invocation past the function's Timeout kills its worker
(the next caller gets a fresh one), as Lambda does with a timed-out sandbox.

- `invocation`: `Invocation`, the `Invoker` interface, function ARNs;
- `worker`: one worker process and the protocol to it;
- `pool`: a function's pool of workers, and `LambdaRuntime`, every function's pool;
- `remote`: `RemoteLambda`, invoking through a Lambda API endpoint instead.
"""

from local.lambdas.invocation import Invocation, Invoker, function_arn
from local.lambdas.pool import DEFAULT_ACQUIRE_SECONDS, FunctionPool, LambdaRuntime, Throttled
from local.lambdas.remote import RemoteLambda
from local.lambdas.worker import INIT_TIMEOUT_SECONDS, WorkerError, WorkerProcess

__all__ = [
    "DEFAULT_ACQUIRE_SECONDS",
    "INIT_TIMEOUT_SECONDS",
    "FunctionPool",
    "Invocation",
    "Invoker",
    "LambdaRuntime",
    "RemoteLambda",
    "Throttled",
    "WorkerError",
    "WorkerProcess",
    "function_arn",
]
