"""Tasks: the ``Task`` base class and PsychRNN's bundled tasks (generated in Rust)."""

from .delayed_discrim import DelayedDiscrimination
from .match_to_category import MatchToCategory
from .perceptual_discrimination import PerceptualDiscrimination
from .task import Task

__all__ = ["Task", "PerceptualDiscrimination", "DelayedDiscrimination", "MatchToCategory"]
