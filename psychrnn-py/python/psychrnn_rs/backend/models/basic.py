"""PsychRNN's ``Basic`` (``psychrnn.backend.models.basic``): the continuous-time rate RNN,
``x_t = (1 - alpha) x_{t-1} + alpha (W_rec f(x_{t-1}) + W_in u_t + b_rec) + noise``,
``z_t = W_out f(x_t) + b_out``, with Dale's principle, connectivity masks and frozen weights."""

from ..rnn import RNN

__all__ = ["Basic", "BasicScan"]


class Basic(RNN):
    """PsychRNN's vanilla continuous-time RNN (see :class:`psychrnn_rs.backend.rnn.RNN` for
    ``params``)."""

    _model_type = "basic_rnn"


class BasicScan(Basic):
    """PsychRNN's ``tf.scan`` variant of ``Basic``: the same network (psychrnn has one
    implementation of both)."""
