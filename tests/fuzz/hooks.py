"""Schemathesis hooks for fuzzing orgql (loaded through SCHEMATHESIS_HOOKS).

Checks, selected with
`--checks status_below_500,no_internal_server_error,answered_in_time`:

- status_below_500: no response has a 5xx status.
- no_internal_server_error: no GraphQL error carries the server's own
  `extensions.code: INTERNAL_SERVER_ERROR` (a fault of the server reported
  inside a 200 response).
- answered_in_time: each response took at most ORGQL_FUZZ_MAX_RESPONSE_TIME
  seconds (default 5). A request with no answer at all within
  `--request-timeout` is a Schemathesis error in any case.

Schemathesis' built-in `not_a_server_error` is not used: for GraphQL it also
fails every resolver error (ST113), including the API's deliberate domain
errors (UNAUTHENTICATED, NOT_FOUND, BAD_USER_INPUT, ...).

A hook counts every request into the JSON file named by ORGQL_FUZZ_STATS:
requests, status codes, GraphQL error codes, and the slowest response.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter

import schemathesis

_lock = threading.Lock()
_stats = {
    "requests": 0,
    "statuses": Counter(),
    "error_codes": Counter(),
    "slowest_seconds": 0.0,
    "slowest_operation": None,
    # A few distinct messages of errors without extensions.code (validation errors).
    "uncoded_samples": [],
}


def _graphql_errors(response):
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    return errors if isinstance(errors, list) else []


def _save():
    path = os.environ.get("ORGQL_FUZZ_STATS")
    if not path:
        return
    data = {
        **_stats,
        "statuses": dict(_stats["statuses"]),
        "error_codes": dict(_stats["error_codes"]),
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


@schemathesis.hook
def after_call(context, case, response):
    elapsed = getattr(response, "elapsed", 0.0) or 0.0
    errors = _graphql_errors(response) or []
    with _lock:
        _stats["requests"] += 1
        _stats["statuses"][str(response.status_code)] += 1
        for error in errors:
            code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
            _stats["error_codes"][code or "(no code)"] += 1
            if not code and isinstance(error, dict):
                message = str(error.get("message", ""))[:160]
                samples = _stats["uncoded_samples"]
                if len(samples) < 8 and message not in samples:
                    samples.append(message)
        if elapsed > _stats["slowest_seconds"]:
            _stats["slowest_seconds"] = round(elapsed, 3)
            _stats["slowest_operation"] = case.operation.label
        _save()


@schemathesis.check
def status_below_500(ctx, response, case):
    """The server answered without a 5xx status."""
    if response.status_code >= 500:
        raise AssertionError(
            f"HTTP {response.status_code} (a server error): {response.text[:500]}"
        )


@schemathesis.check
def no_internal_server_error(ctx, response, case):
    """No GraphQL error is the server's INTERNAL_SERVER_ERROR."""
    errors = _graphql_errors(response)
    if errors is None:
        if response.status_code < 400:
            raise AssertionError(f"the response is not a JSON object: {response.text[:500]}")
        return
    internal = [
        e
        for e in errors
        if isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR"
    ]
    if internal:
        raise AssertionError(f"GraphQL INTERNAL_SERVER_ERROR: {json.dumps(internal)[:500]}")


@schemathesis.check
def answered_in_time(ctx, response, case):
    """The response came within ORGQL_FUZZ_MAX_RESPONSE_TIME seconds."""
    limit = float(os.environ.get("ORGQL_FUZZ_MAX_RESPONSE_TIME", "5"))
    elapsed = getattr(response, "elapsed", 0.0) or 0.0
    if elapsed > limit:
        raise AssertionError(f"the response took {elapsed:.2f} s (limit {limit} s)")
