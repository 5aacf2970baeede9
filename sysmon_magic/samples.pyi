# The C reader of samples (samples.c), built where a C compiler was at hand.
import numpy as np

def parse(
    body: bytes,
    spans: np.ndarray,
    latest: int,
    times: np.ndarray,
    values: np.ndarray,
    counts: np.ndarray,
    /,
) -> int | None: ...
