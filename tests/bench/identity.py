"""What verifying a caller costs the receiving service (issue 17): `rpc_identity_check_ms`.

Every RPC call and event carries an ES256 assertion (services.common.trust); the receiver
verifies it before a worker starts. Measured here on fresh assertions (a replayed one is refused,
so each is new), beside the obvious naive way: the sender's public key read and parsed from its
file for every message instead of once.
"""

import statistics
import tempfile
import time
from pathlib import Path

from services.common import trust
from services.common.caller import Caller

CHAIR = Caller(user="chair@bench.reestr", ip="10.0.0.1", roles=("chair",), org_ids=(5,),
               subject="0b1e2c3d-4e5f-6789-abcd-ef0123456789")
AUDIENCE = "membership.get_member"


def _per_call_ms(tokens: list[str]) -> float:
    started = time.perf_counter()
    for token in tokens:
        trust.verify(token, AUDIENCE)
    return (time.perf_counter() - started) * 1000 / len(tokens)


def identity_figures(n: int = 4000, rounds: int = 5) -> dict[str, float]:
    import os

    if not os.environ.get("TRUST_KEYS_DIR"):  # the figures need keys, not the deploy's
        directory = Path(tempfile.mkdtemp(prefix="bench-trust-")) / "keys"
        trust.generate_keys(directory, list(trust.PRINCIPALS))
        os.environ["TRUST_KEYS_DIR"] = str(directory)
        trust.trust_settings.cache_clear()
    started = time.perf_counter()
    tokens = [trust.sign("gateway", AUDIENCE, CHAIR) for _ in range(n * rounds)]
    sign_ms = (time.perf_counter() - started) * 1000 / len(tokens)
    trust.verify(trust.sign("gateway", AUDIENCE, CHAIR), AUDIENCE)  # keys loaded once
    checks = [_per_call_ms(tokens[i * n:(i + 1) * n]) for i in range(rounds)]

    naive_tokens = [trust.sign("gateway", AUDIENCE, CHAIR) for _ in range(n // 4)]
    started = time.perf_counter()
    for token in naive_tokens:
        trust.public_keys.cache_clear()  # the naive receiver: keys from disk every time
        trust.verify(token, AUDIENCE)
    naive_ms = (time.perf_counter() - started) * 1000 / len(naive_tokens)
    return {"rpc_identity_check_ms": round(statistics.median(checks), 4),
            "rpc_identity_sign_ms": round(sign_ms, 4),
            "rpc_identity_check_naive_ms": round(naive_ms, 4)}


if __name__ == "__main__":
    import json

    print(json.dumps(identity_figures()))
