"""How a failed MLflow call is told apart: a connection failure (retried), a refused permission
(reported as such, never retried) or anything else (raised unchanged, never retried).

MLflow wraps a refused connection in an `MlflowException` whose message carries the requests
error and whose `__context__` is that error, so the exception chain is walked, not the message.
"""

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# MLflow error codes a server sends when it is there but will not let us in.
PERMISSION_CODES = {"PERMISSION_DENIED", "UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED"}
# ...and when it is there but cannot serve right now (a 503 from a restarting server).
UNAVAILABLE_CODES = {"TEMPORARILY_UNAVAILABLE"}


class MlflowUnavailableError(RuntimeError):
    """The tracking server or registry cannot be reached (after the retries)."""


class MlflowPermissionError(RuntimeError):
    """The tracking server or store was reached and refused the credentials or the write."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        yield node
        node = node.__cause__ or node.__context__


def _error_code(exc: BaseException) -> str:
    return str(getattr(exc, "error_code", "") or "")


def is_connection_failure(exc: BaseException) -> bool:
    """True when the call failed because the server could not be reached or timed out."""
    import requests

    transient = (
        ConnectionError,  # refused, reset, aborted (builtin)
        TimeoutError,
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.RetryError,  # MLflow's own retries on 5xx ran out
    )
    return any(
        isinstance(node, transient) or _error_code(node) in UNAVAILABLE_CODES
        for node in _chain(exc)
    )


def is_permission_failure(exc: BaseException) -> bool:
    """True when the server or store refused us: 401/403, or a file/database we may not write."""
    for node in _chain(exc):
        if isinstance(node, PermissionError) or _error_code(node) in PERMISSION_CODES:
            return True
        if "readonly database" in str(node):  # sqlite: "attempt to write a readonly database"
            return True
    return False


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def call_with_retries(
    fn: Callable[..., T],
    *args,
    what: str,
    uri: str,
    retries: int,
    first_wait: float,
    **kwargs,
) -> T:
    """Call `fn`, retrying only connection failures (`retries` times, waits doubling from
    `first_wait` seconds). Returns what `fn` returns.

    Raises MlflowUnavailableError (naming `uri` and `what`) when the server stays unreachable,
    MlflowPermissionError when it refuses us, and any other error unchanged on its first raise.
    """

    def _log_retry(state: RetryCallState) -> None:
        log.warning(
            "MLflow at %s: could not %s (%s); retry %d of %d in %.1fs",
            uri,
            what,
            first_line(state.outcome.exception()),
            state.attempt_number,
            retries,
            state.next_action.sleep if state.next_action else 0.0,
        )

    retrying = Retrying(
        retry=retry_if_exception(is_connection_failure),
        stop=stop_after_attempt(retries + 1),
        wait=wait_exponential(multiplier=first_wait, exp_base=2, min=first_wait),
        before_sleep=_log_retry,
        reraise=True,
    )
    try:
        return retrying(fn, *args, **kwargs)
    except Exception as exc:
        if is_permission_failure(exc):
            raise MlflowPermissionError(
                f"MLflow at {uri} refused to {what}: {first_line(exc)}; check the credentials "
                "(MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD) or the store's "
                "file permissions"
            ) from exc
        if is_connection_failure(exc):
            raise MlflowUnavailableError(
                f"MLflow at {uri} is unreachable: could not {what} after {retries + 1} "
                f"attempt(s): {first_line(exc)}"
            ) from exc
        raise
