# The C reader of samples (samples.c), built where a C compiler was at hand.
import numpy as np

def parse(
    body: bytes, spans: np.ndarray, times: np.ndarray, values: np.ndarray, counts: np.ndarray, /
) -> tuple[int, bool] | None: ...
