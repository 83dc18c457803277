"""TensorFlow's spellings of what PsychRNN scripts pass to PsychRNN, so a script can replace
``import tensorflow as tf`` with ``from psychrnn_rs import tf`` and run unchanged:
``tf.nn.relu`` (and tanh, sigmoid, softplus), ``tf.compat.v1.train.AdamOptimizer`` (and
``tf.train``'s GradientDescent, Momentum, RMSProp), ``tf.compat.v2.random.set_seed`` (the seed
of models built afterwards without ``params['seed']``) and ``tf.compat.v1.logging`` (ignored).
Nothing else of TensorFlow is here."""

import types

from . import functions as _f
from . import optimizers as _o
from . import seeding as _s

nn = types.SimpleNamespace(relu=_f.relu, tanh=_f.tanh, sigmoid=_f.sigmoid, softplus=_f.softplus)

train = types.SimpleNamespace(
    AdamOptimizer=_o.Adam,
    GradientDescentOptimizer=lambda learning_rate: _o.SGD(learning_rate=learning_rate),
    MomentumOptimizer=_o.Momentum,
    RMSPropOptimizer=_o.RMSProp,
)

random = types.SimpleNamespace(set_seed=_s.set_seed)

logging = types.SimpleNamespace(ERROR=40, WARN=30, INFO=20, set_verbosity=lambda level: None)

compat = types.SimpleNamespace(
    v1=types.SimpleNamespace(train=train, logging=logging),
    v2=types.SimpleNamespace(random=random),
)
