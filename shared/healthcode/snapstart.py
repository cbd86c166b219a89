"""Lambda SnapStart runtime hooks: what a restored copy of a function must not share.

With ``SnapStart=On`` (template.yaml) Lambda runs a function's imports once, snapshots the
process and starts every later copy from that snapshot. Whatever the process held then is
held by every copy at once:

- ``random``'s state: every copy would draw the same sequence (jitter, sampling, shuffles), so
  it is re-seeded from the operating system after each restore (``secrets``, ``uuid4`` and
  ``os.urandom`` read the kernel each time and need nothing);
- keys: the code-signing key set, parsed signing keys, the trust list, the personal-data keys
  and their use counters. They are dropped before the snapshot (none is written into it) and
  after each restore (a copy reads the current ones, not those of the snapshot's day: a key
  rotated or revoked since then must not live on in a copy);
- AWS clients and the storage connection: their connection pools hold sockets and credentials
  of the snapshot's moment, so each copy makes its own.

Only modules the function has already imported are reset: the hooks never import key or QR
code a function does not use. ``register`` is a no-op where ``snapshot_restore_py`` (part of
Lambda's managed Python runtimes) is missing: locally, in tests, and on AWS without SnapStart
the hooks are simply never called.
"""

from __future__ import annotations

import random
import sys

#: (module, what to call in it) for the state a restored copy must make afresh; in the order
#: it runs (clients first: the key caches reload through them).
CLIENTS: tuple[tuple[str, str], ...] = (
    ("healthcode.aws", "reset"),
    ("healthcode.storage.connection", "reset"),
)
KEYS: tuple[tuple[str, str], ...] = (
    ("healthcode.codes.keystore", "invalidate"),
    ("healthcode.codes.tokens", "_private_key.cache_clear"),
    ("healthcode.codes.trust", "reset"),
    ("healthcode.protection.pii", "reset_caches"),
)

_registered = False


def _call(module_name: str, path: str) -> None:
    module = sys.modules.get(module_name)
    if module is None:
        return
    target: object = module
    for name in path.split("."):
        target = getattr(target, name, None)
        if target is None:
            return
    if callable(target):
        target()


def drop_keys() -> None:
    """Forget every cached key, so none is in a snapshot or outlives one."""
    for module_name, path in KEYS:
        _call(module_name, path)


def before_snapshot() -> None:
    drop_keys()


def after_restore() -> None:
    random.seed()  # from os.urandom: each copy its own sequence
    for module_name, path in CLIENTS:
        _call(module_name, path)
    drop_keys()


def register() -> bool:
    """Register the hooks with Lambda's runtime, once; whether they were (SnapStart's library
    is there)."""
    global _registered
    if _registered:
        return True
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found,unused-ignore]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    _registered = True
    return True
