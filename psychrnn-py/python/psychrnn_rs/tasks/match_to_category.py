"""PsychRNN's ``MatchToCategory`` (``psychrnn.tasks.match_to_category``), in Rust."""

from ._bundled import BundledTask

__all__ = ["MatchToCategory"]


class MatchToCategory(BundledTask):
    """Category task (PsychRNN's): which sector of the circle holds the angle encoded on a ring
    of ``N_in`` inputs; ``N_out`` categories. Needs ``T >= 2000`` (fixed epochs).

    Args:
        dt, tau, T, N_batch: As for every task.
        N_in (int): Input channels on the ring (16).  N_out (int): Categories (2).
    """

    _tag = "match_to_category"

    def __init__(self, dt, tau, T, N_batch, N_in=16, N_out=2):
        super().__init__(dt, tau, T, N_batch, N_in=N_in, N_out=N_out)
