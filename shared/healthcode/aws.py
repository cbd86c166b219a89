"""The one seam for AWS clients: created lazily, once per container, and resettable.

boto3 honours ``AWS_ENDPOINT_URL``, which is how the local stack and tests point every client
at moto. Nothing else in the code base constructs a boto3 client.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=2, read_timeout=5)


def client(service: str) -> Any:
    """A cached boto3 client for ``service`` in the stack's region."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(service)
        if found is None:
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "cn-north-1"
            session: Any = boto3.session.Session()
            found = session.client(service, region_name=region, config=_CONFIG)
            _clients[service] = found
        return found


def reset() -> None:
    """Forget every client (tests that switch endpoints or credentials)."""
    with _lock:
        _clients.clear()
