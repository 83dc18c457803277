"""PsychRNN's ``Curriculum`` (``psychrnn.backend.curriculum``): tasks trained in order, each
until a metric on a fresh batch passes its threshold.

With PsychRNN's ``default_metric`` and the tasks' own accuracies on bundled tasks, the
curriculum is psychrnn's own ``[curriculum]`` (as ``psychrnn train`` runs it); otherwise the
metric is called from Python at each check, with PsychRNN's arguments.
"""

import warnings

import numpy as np

__all__ = ["Curriculum", "default_metric"]


def default_metric(curriculum_params, input_data, correct_output, output_mask, output, epoch, losses, verbosity):
    """PsychRNN's metric: the stage's accuracy, and whether it reached the stage's threshold."""
    stage = curriculum_params["stage"]
    accuracy = curriculum_params["accuracies"][stage](correct_output, output, output_mask)
    threshold = curriculum_params["thresholds"][stage]
    if verbosity:
        print("Accuracy: " + str(accuracy))
    return accuracy >= threshold, accuracy


class Curriculum:
    """Tasks trained in order (PsychRNN's ``Curriculum``).

    Args:
        tasks (list of Task): The stages' tasks (same inputs and outputs).
        metric (callable): ``metric(curriculum_params, x, y, mask, output, epoch, losses,
            verbosity) -> (passed, value)`` (default :func:`default_metric`).
        accuracies (list of callables): Per stage ``accuracy(y, output, mask)`` (default: the
            tasks' ``accuracy_function``).
        thresholds (list of float): Per stage (default 0.9 each).
        metric_epoch (int): Check every this many updates (10).
        output_file (str): Where ``np.save`` writes ``[value, stage]`` per check at completion.
    """

    def __init__(self, tasks, metric=default_metric, accuracies=None, thresholds=None, metric_epoch=10, output_file=None):
        self.tasks = list(tasks)
        self.metric = metric
        self.accuracies = accuracies if accuracies is not None else [t.accuracy_function for t in self.tasks]
        self.thresholds = thresholds if thresholds is not None else [0.9] * len(self.tasks)
        if not (len(self.tasks) == len(self.accuracies) == len(self.thresholds)) or not self.tasks:
            raise ValueError("Curriculum: tasks, accuracies and thresholds must be non-empty lists of one length")
        self.metric_epoch = int(metric_epoch)
        self.output_file = output_file
        self.stop_training = False
        self.stage = 0
        self.metric_values = []

    def batch_generator(self):
        """The current stage's batch generator."""
        return self.tasks[self.stage].batch_generator()

    def get_generator_function(self):
        """Deprecated in PsychRNN: :meth:`batch_generator`."""
        warnings.warn("get_generator_function is deprecated: use batch_generator", DeprecationWarning, stacklevel=2)
        return self.batch_generator()

    def metric_test(self, input_data, correct_output, output_mask, test_output, epoch, losses, verbosity=False):
        """One check (PsychRNN's): records ``[value, stage]`` and advances the stage when the
        metric passes. Returns whether it advanced."""
        passed, value = self.metric(self.__dict__, input_data, correct_output, output_mask, test_output, epoch, losses, verbosity)
        self.metric_values.append([value, self.stage])
        if passed:
            self.stage += 1
            if self.stage == len(self.tasks):
                self.stop_training = True
                if self.output_file is not None:
                    np.save(self.output_file, self.metric_values)
            if verbosity:
                print("Stage " + str(self.stage))
            return True
        return False

    # What psychrnn's training uses.

    def _native_metric(self):
        """Whether psychrnn's own accuracy metric computes exactly this curriculum's."""
        bundled = all(hasattr(t, "_psychrnn_table") or not t._psychrnn_has_accuracy() for t in self.tasks)
        own = all(getattr(a, "__func__", None) is type(t).accuracy_function for a, t in zip(self.accuracies, self.tasks))
        return self.metric is default_metric and bundled and own

    def _sections(self, model, held, verbose, workers=0):
        """The ``[curriculum]`` and ``[metric]`` manifest sections."""
        self.stage, self.stop_training, self.metric_values = 0, False, []
        stages = [{"task": model._task_section(t, held, workers), "threshold": float(th)} for t, th in zip(self.tasks, self.thresholds)]
        if self._native_metric():
            return {"metric_epoch": self.metric_epoch, "stages": stages}, {"type": "accuracy"}
        self._python_metric = True

        def check(x, y, mask, output, epoch, losses, verbosity):
            # The trainer advances on 1 (threshold 0.5): the metric's own verdict decides.
            return 1.0 if self.metric_test(x, y, mask, output, epoch, losses, verbosity) else 0.0

        for stage in stages:
            stage["threshold"] = 0.5
        metric = {"type": "python", "handle": held.hold(check, verbose)}
        return {"metric_epoch": self.metric_epoch, "stages": stages}, metric

    def _finished(self, history):
        """After training: the checks of psychrnn's own metric become ``metric_values``."""
        if getattr(self, "_python_metric", False):
            self._python_metric = False
            return
        self.metric_values = [[value, stage] for value, stage in history]
        self.stage = min(
            sum(1 for value, stage in history if value >= self.thresholds[stage]), len(self.tasks)
        )
        self.stop_training = self.stage == len(self.tasks)
        if self.stop_training and self.output_file is not None:
            np.save(self.output_file, self.metric_values)
