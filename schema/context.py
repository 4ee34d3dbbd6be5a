"""The per-request context: the services a resolver may use, and who is asking."""

from __future__ import annotations

from dataclasses import dataclass, field

from auth.tokens import BearerTokens
from domain.bus import Caller, CommandBus
from projections.consistency import ConsistencyWaiter
from projections.readers import ReadModels


@dataclass(frozen=True)
class Services:
    """What every request shares; built once by the composition root."""

    bus: CommandBus
    reads: ReadModels
    consistency: ConsistencyWaiter
    tokens: BearerTokens
    consistency_timeout: float


@dataclass
class Context:
    services: Services
    viewer_id: str | None
    correlation_id: str
    consistent_with: str | None = None  # the raw X-Consistent-With header
    _reached: int = field(default=0, repr=False)

    @property
    def reads(self) -> ReadModels:
        return self.services.reads

    def caller(self, command_id: str | None) -> Caller:
        return Caller(self.viewer_id, self.correlation_id, command_id)

    async def read_your_write(self, position: int) -> None:
        """Waits until the read models hold `position`, once per request and position."""
        if position > self._reached:
            await self.services.consistency.wait_for(position, self.services.consistency_timeout)
            self._reached = position
