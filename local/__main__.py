"""`python -m local` (`make dev`): the Docker-free local stack (local/stack.py), its command
line and its signals: Ctrl-C (or SIGTERM) stops it cleanly, a second Ctrl-C at once."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from types import FrameType

from boxoffice.settings import Settings
from local import log
from local.config import DEFAULT_SERVICES_MOTO_PORT, Config
from local.stack import Stack, StackError
from local.workers import DOMAIN_VARIABLES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description="Run Boxoffice locally without Docker: Postgres, moto (DynamoDB, SQS),\n"
        "the functions of template.yaml behind a local API gateway, and their event sources.",
        epilog="Environment (unset or blank: the default):\n"
        + Config.described()
        + "\nPassed on to the functions as they are: "
        + ", ".join(
            f"{name} ({Settings.model_fields[name.lower()].default})" for name in DOMAIN_VARIABLES
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--services-only",
        action="store_true",
        help="only Postgres and moto (with tables, queues, TTL and the event sources): the"
        f" backing services for `sam local start-api`; moto on port {DEFAULT_SERVICES_MOTO_PORT}",
    )
    parser.add_argument(
        "--no-event-sources",
        action="store_true",
        help="do not poll SQS and the DynamoDB stream nor fire the schedules",
    )
    parser.add_argument(
        "--lambda-endpoint",
        metavar="URL",
        help="invoke event-source functions through this Lambda endpoint, e.g. the one of"
        " `sam local start-lambda` (http://127.0.0.1:3001), instead of local workers",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = Config.from_env()
    if args.lambda_endpoint:
        config = config.model_copy(update={"lambda_endpoint": args.lambda_endpoint})
    stack = Stack(config, services_only=args.services_only, event_sources=not args.no_event_sources)
    stopping = threading.Event()
    first_signal: list[float] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            # A second Ctrl-C (not the same one delivered twice) stops without waiting.
            if first_signal and time.monotonic() - first_signal[0] > 1.0:
                log.say("Stopping now.")
                stack.kill_workers()
                if stack.cluster is not None:
                    stack.cluster.stop()
                os._exit(130)
            return
        stopping.set()
        first_signal.append(time.monotonic())
        if not stack.started:
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    code = 0
    try:
        stack.start()
        while not stopping.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    except StackError as error:
        log.say(f"error: {error}")
        code = 1
    finally:
        stopping.set()
        log.say("Stopping...")
        stack.stop()
        log.say("Stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
