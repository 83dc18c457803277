"""PsychRNN's "Simulation in NumPy" (docs/notebooks/OtherFeatures.ipynb) on psychrnn_rs:
BasicSimulator from a model, from a weight file and from a weight dict, on a batch size other
than the training one (psychrnn_rs runs it in Rust, through the kernel the model trained with).

Changed from PsychRNN: the first word of the imports (psychrnn -> psychrnn_rs). It reads
./weights/saved_weights.npz, which 02_simple_example.py writes (as in PsychRNN's docs).
Left out: `%matplotlib inline`.
"""
from psychrnn_rs.backend.models.basic import Basic
from psychrnn_rs.backend.simulation import BasicSimulator
from psychrnn_rs.tasks.perceptual_discrimination import PerceptualDiscrimination

import numpy as np

from matplotlib import pyplot as plt

network_params = {'N_batch': 50,
                  'N_in': 2,
                  'N_out': 2,
                  'dt': 10,
                  'tau': 100,
                  'T': 2000,
                  'N_steps': 200,
                  'N_rec': 50,
                  'name': 'Basic',
                  'load_weights_path': './weights/saved_weights.npz'
                 }
tf_model = Basic(network_params)

simulator = BasicSimulator(rnn_model = tf_model)

pd = PerceptualDiscrimination(dt = 10, tau = 100, T = 2000, N_batch = 128)

x, y, mask, _ = pd.get_trial_batch()
outputs, states = simulator.run_trials(x)

plt.plot(range(0, len(outputs[0,:,:])*10,10),outputs[0,:,:])
plt.ylabel("Activity of Output Unit")
plt.xlabel("Time (ms)")
plt.title("Output on New Sample")

plt.plot(range(0, len(states[0,:,:])*10,10),states[0,:,:])
plt.ylabel("State Variable Value")
plt.xlabel("Time (ms)")
plt.title("Evolution of State Variables over Time")

tf_model.destruct()

simulator = BasicSimulator(weights_path='./weights/saved_weights.npz', params = {'dt': 10, 'tau': 100})

pd = PerceptualDiscrimination(dt = 10, tau = 100, T = 2000, N_batch = 128)

x, y, mask, _ = pd.get_trial_batch()
outputs, states = simulator.run_trials(x)

plt.plot(range(0, len(outputs[0,:,:])*10,10),outputs[0,:,:])
plt.ylabel("Activity of Output Unit")
plt.xlabel("Time (ms)")
plt.title("Output on New Sample")

plt.plot(range(0, len(states[0,:,:])*10,10),states[0,:,:])
plt.ylabel("State Variable Value")
plt.xlabel("Time (ms)")
plt.title("Evolution of State Variables over Time")

weights = dict(np.load('./weights/saved_weights.npz', allow_pickle = True))
simulator = BasicSimulator(weights = weights , params = {'dt': 10, 'tau': 100})

pd = PerceptualDiscrimination(dt = 10, tau = 100, T = 2000, N_batch = 128)

x, y, mask, _ = pd.get_trial_batch()
outputs, states = simulator.run_trials(x)

plt.plot(range(0, len(outputs[0,:,:])*10,10),outputs[0,:,:])
plt.ylabel("Activity of Output Unit")
plt.xlabel("Time (ms)")
plt.title("Output on New Sample")

plt.plot(range(0, len(states[0,:,:])*10,10),states[0,:,:])
plt.ylabel("State Variable Value")
plt.xlabel("Time (ms)")
plt.title("Evolution of State Variables over Time")