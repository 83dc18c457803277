"""PsychRNN's ``DelayedDiscrimination`` (``psychrnn.tasks.delayed_discrim``), in Rust."""

from ._bundled import BundledTask

__all__ = ["DelayedDiscrimination"]


class DelayedDiscrimination(BundledTask):
    """Delayed frequency comparison (PsychRNN's): is f1 > f2 or f1 < f2, after a delay.

    Args:
        dt, tau, T, N_batch: As for every task.
        onset_time, stim_duration_1, delay_duration, stim_duration_2, decision_duration (float,
            optional): Fixed epoch durations in ms (default: drawn as in PsychRNN).
    """

    _tag = "delayed_discrimination"

    def __init__(
        self,
        dt,
        tau,
        T,
        N_batch,
        onset_time=None,
        stim_duration_1=None,
        delay_duration=None,
        stim_duration_2=None,
        decision_duration=None,
    ):
        self.onset_time = onset_time
        self.stim_duration_1 = stim_duration_1
        self.delay_duration = delay_duration
        self.stim_duration_2 = stim_duration_2
        self.decision_duration = decision_duration
        self.frequency_pairs = [(18, 10), (22, 14), (26, 18), (30, 22), (34, 26)]
        self.decision_options = [">", "<"]
        self.lo = 0.2
        self.hi = 1.0
        super().__init__(
            dt,
            tau,
            T,
            N_batch,
            onset_time=onset_time,
            stim_duration_1=stim_duration_1,
            delay_duration=delay_duration,
            stim_duration_2=stim_duration_2,
            decision_duration=decision_duration,
        )
