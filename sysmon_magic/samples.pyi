# The C reader of series (samples.c), built where a C compiler was at hand.
import numpy as np

def scan(
    body: bytes,
    begin: int,
    stop: int,
    vector: bool,
    latest: int,
    times: np.ndarray,
    values: np.ndarray,
    counts: np.ndarray,
    metrics: np.ndarray,
    /,
) -> tuple[int, int, int] | None: ...
