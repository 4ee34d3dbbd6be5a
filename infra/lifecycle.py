"""Something a `with` block starts and stops, however the block ends: the embedded Redis,
and the servers, proxies and processes tests and benchmarks start."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

T = TypeVar("T")


class Lifecycle(ABC, Generic[T]):
    """`with thing as value:` calls `start()` (its result is the value) and `close()`."""

    @abstractmethod
    def start(self) -> T: ...

    @abstractmethod
    def close(self) -> None:
        """Stops what `start` started; nothing when it is not running (any more)."""

    def __enter__(self) -> T:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()
