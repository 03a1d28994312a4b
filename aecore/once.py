"""single_flight: a cached call that concurrent callers with the same arguments share.

A leaf. Several sessions of one server asking for the same dataset or classifier at once
would otherwise each parse, download or train it side by side.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable


def single_flight(maxsize: int | None = None):
    """Decorate a function so that calls with equal arguments run it once at a time, per argument tuple.

    maxsize: keep the last maxsize results (functools.lru_cache); None keeps none, so each call after the
    one in flight runs again (for functions that cache on disk themselves).
    """
    def decorate(load: Callable):
        call = functools.lru_cache(maxsize=maxsize)(load) if maxsize else load
        locks: dict[tuple, threading.Lock] = {}
        guard = threading.Lock()

        @functools.wraps(load)
        def wrapper(*args):
            with guard:
                lock = locks.setdefault(args, threading.Lock())
            with lock:
                return call(*args)

        wrapper.cache_clear = getattr(call, "cache_clear", lambda: None)
        return wrapper

    return decorate
