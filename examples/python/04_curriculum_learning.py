"""PsychRNN's "Curriculum Learning" (docs/notebooks/curriculum_learning.ipynb) on psychrnn_rs: four
coherences trained in turn, against a network trained on the hardest alone with
performance_measure / performance_cutoff.

Changed from PsychRNN: the first word of the imports (psychrnn -> psychrnn_rs). Left out: the
Colab/TensorFlow set-up cell and `%matplotlib inline`. (The notebook's legend labels are swapped;
kept as PsychRNN has them.)
"""
from psychrnn_rs.tasks.perceptual_discrimination import PerceptualDiscrimination
from psychrnn_rs.backend.models.basic import Basic
from psychrnn_rs.backend.curriculum import Curriculum, default_metric
import numpy as np

from matplotlib import pyplot as plt

pds = [PerceptualDiscrimination(dt = 10, tau = 100, T = 2000, N_batch = 50, coherence = .7 - i/5) for i in range(4)]

metric = default_metric # Function for calculating whether the stage advances and what the metric value is at each metric_epoch. Default: default_metric().
accuracies = [pds[i].accuracy_function for i in range(len(pds))] # optional list of functions to use to calculate network performance for the purposes of advancing tasks. Used by default_metric() to compute accuracy. Default: [tasks[i].accuracy_function for i in range(len(tasks))].
thresholds = [.9 for i in range(len(pds))] # Optional list of thresholds. If metric = default_metric, accuracies must reach the threshold for a given stage in order to advance to the next stage. Default: [.9 for i in range(len(tasks))]
metric_epoch = 1 # calculate the metric / test if advance to the next stage every metric_epoch training epochs.
output_file = None # Optional path to save out metric value and stage to. Default: None.

curriculum = Curriculum(pds, output_file=output_file, metric_epoch=metric_epoch, thresholds=thresholds, accuracies=accuracies, metric=metric)

network_params = pds[0].get_task_params()
network_params['name'] = 'curriculumModel' #Used to scope out a namespace for global variables.
network_params['N_rec'] = 50

curriculumModel = Basic(network_params)
network_params['name'] = 'basicModel'
basicModel = Basic(network_params)

train_params = {}
train_params['curriculum'] = curriculum

curric_losses, initialTime, trainTime = curriculumModel.train_curric(train_params)

def performance_measure(trial_batch, trial_y, output_mask, output, epoch, losses, verbosity):
    return pds[len(pds)-1].accuracy_function(trial_y, output, output_mask)

train_params['curriculum'] = None
train_params['performance_measure'] = performance_measure
train_params['performance_cutoff'] = .9

basic_losses, initialTime, trainTime= basicModel.train(pds[len(pds)-1], train_params)

plt.plot( curric_losses, 'b--', label = 'no curriculum')
plt.plot(basic_losses, 'g--', label='curriculum')
plt.legend()
plt.title("Loss during Training for Curriculum vs. Non-Curriculum Models")
plt.ylabel('Loss')
plt.xlabel('Training iterations')
plt.show()

basicModel.destruct()

curriculumModel.destruct()