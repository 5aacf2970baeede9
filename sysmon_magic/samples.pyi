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
def set_length(buffer: bytearray, size: int, /) -> None: ...
def exported(buffer: bytearray, /) -> bool: ...
def dechunk(
    buffer: bytearray, read: int, end: int, start: int, write: int, left: int, /
) -> tuple[int, int, int, int, bool]: ...
