"""PsychRNN's ``psychrnn.backend``: models, simulators, curricula, initialisers."""
