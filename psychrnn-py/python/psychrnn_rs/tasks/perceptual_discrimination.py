"""PsychRNN's ``PerceptualDiscrimination`` (``psychrnn.tasks.perceptual_discrimination``), in Rust."""

from ._bundled import BundledTask

__all__ = ["PerceptualDiscrimination"]


class PerceptualDiscrimination(BundledTask):
    """Two-choice perceptual discrimination (PsychRNN's): two noisy inputs, the one with the
    stronger stimulus is chosen after it ends.

    Args:
        dt (float): Time step (ms).  tau (float): Unit time constant (ms).
        T (float): Trial duration (ms).  N_batch (int): Trials per batch.
        coherence (float, optional): A fixed coherence (default: drawn from {0.1, 0.3, 0.5, 0.7}).
        direction (int, optional): A fixed direction, 0 or 1 (default: drawn uniformly).
            PsychRNN ignores this argument; psychrnn uses it.
    """

    _tag = "perceptual_discrimination"

    def __init__(self, dt, tau, T, N_batch, coherence=None, direction=None):
        self.coherence = coherence
        self.direction = direction
        self.lo = 0.2
        self.hi = 1.0
        super().__init__(dt, tau, T, N_batch, coherence=coherence, direction=direction)
