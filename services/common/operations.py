"""The `operations_figures` RPC every service with a database offers: the same figures its
metrics give (services.common.observability), for the operators' page in the portal. A mixin,
as nameko finds entrypoints on base classes."""


from services.common.caller import Caller
from services.common.errors import Forbidden
from services.common.observability import figures_of
from services.common.roles import CENTRAL_ADMIN, OPERATOR
from services.common.rpc import rpc

OPERATIONS_READERS = frozenset({CENTRAL_ADMIN, OPERATOR})


class OperationsRpc:
    name: str
    caller: Caller

    @rpc
    def operations_figures(self) -> dict[str, float]:
        if not (self.caller.is_system or OPERATIONS_READERS.intersection(self.caller.roles)):
            raise Forbidden("operations_only", "Состояние платформы видят операторы и аппарат ЦС")
        return figures_of(self.name)
