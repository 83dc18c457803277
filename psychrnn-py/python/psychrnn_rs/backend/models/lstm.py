"""PsychRNN's ``LSTM`` (``psychrnn.backend.models.lstm``): ``h = o * sigmoid(c)``, per-trial
trainable initial states."""

from ..rnn import RNN

__all__ = ["LSTM"]


class LSTM(RNN):
    """PsychRNN's LSTM (see :class:`psychrnn_rs.backend.rnn.RNN` for ``params``; Dale's
    principle, masks and the rate-network keys do not apply)."""

    _model_type = "lstm"
