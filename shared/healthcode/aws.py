"""The one seam for AWS clients: created lazily, once per container, and resettable.

Clients are plain botocore clients (what boto3 wraps): importing boto3 also imports s3transfer,
about 100 ms of every cold start for nothing the functions use. botocore honours
``AWS_ENDPOINT_URL``, which is how the local stack and tests point every client at moto.
Nothing else in the code base constructs an AWS client.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import botocore.session
from botocore.config import Config

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=2, read_timeout=5)


def client(service: str) -> Any:
    """A cached client for ``service`` in the stack's region."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(service)
        if found is None:
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "cn-north-1"
            found = botocore.session.get_session().create_client(service, region_name=region, config=_CONFIG)
            _clients[service] = found
        return found


def reset() -> None:
    """Forget every client (tests that switch endpoints or credentials)."""
    with _lock:
        _clients.clear()
