"""PsychRNN's ``psychrnn.backend.models``: ``Basic`` (and ``BasicScan``) and ``LSTM``."""

from .basic import Basic, BasicScan
from .lstm import LSTM

__all__ = ["Basic", "BasicScan", "LSTM"]
