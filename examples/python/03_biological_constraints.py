"""PsychRNN's "Biological Constraints" (docs/notebooks/BiologicalConstraints.ipynb) on psychrnn_rs:
Dale's principle, no autapses, modular connectivity masks, and frozen weights (fixed_weights).

Changed from PsychRNN: the first word of the imports (psychrnn -> psychrnn_rs). Left out: the
Colab/TensorFlow set-up cell and `%matplotlib inline`.
"""
import numpy as np

from matplotlib import pyplot as plt
from matplotlib.colors import Normalize

# ---------------------- Import the package ---------------------------
from psychrnn_rs.tasks.perceptual_discrimination import PerceptualDiscrimination
from psychrnn_rs.backend.models.basic import Basic

# ---------------------- Set up a basic model ---------------------------
pd = PerceptualDiscrimination(dt = 10, tau = 100, T = 2000, N_batch = 128)
network_params = pd.get_task_params() # get the params passed in and defined in pd
network_params['name'] = 'model' # name the model uniquely if running mult models in unison
network_params['N_rec'] = 50 # set the number of recurrent units in the model

# -------------------- Set up variables that will be useful later -------
N_in = network_params['N_in']
N_rec = network_params['N_rec']
N_out = network_params['N_out']

def plot_weights(weights, title=""):
    cmap = plt.set_cmap('RdBu_r')
    img = plt.matshow(weights, norm=Normalize(vmin=-.5, vmax=.5))
    plt.title(title)

    plt.colorbar()

basicModel = Basic(network_params) # instantiate a basic vanilla RNN we will compare to later on

weights = basicModel.get_weights()
plot_weights(weights['W_rec'])

basicModel.destruct()

dale_network_params = network_params.copy()
dale_network_params['name'] = 'dales_model'
dale_network_params['dale_ratio'] = .8
daleModel = Basic(dale_network_params)

weights = daleModel.get_weights()
plot_weights(weights['W_rec'])

daleModel.destruct()

autapses_network_params = network_params.copy()
autapses_network_params['name'] = 'autapses_model'
autapses_network_params['autapses'] = False
autapsesModel = Basic(autapses_network_params)

weights = autapsesModel.get_weights()
plot_weights(weights['W_rec'])

autapsesModel.destruct()

modular_network_params = network_params.copy()
modular_network_params['name'] = 'modular_model'

# Set connectivity matrices to the default -- fully connected
input_connectivity = np.ones((N_rec, N_in)) 
rec_connectivity = np.ones((N_rec, N_rec)) 
output_connectivity = np.ones((N_out, N_rec)) 

# Specify certain connections to disallow. This can be done with input and output connectivity matrices as well
rec_connectivity[2*(N_rec//5):4*(N_rec//5),:2*(N_rec//5)] = 0
rec_connectivity[:2*(N_rec//5),2*(N_rec//5):4*(N_rec//5)] = 0

plot_weights(rec_connectivity, "recurrent connectivity")

modular_network_params['input_connectivity'] = input_connectivity
modular_network_params['rec_connectivity'] = rec_connectivity
modular_network_params['output_connectivity'] = output_connectivity
modularModel = Basic(modular_network_params)

weights = modularModel.get_weights()

plot_weights(weights['W_rec'])

modularModel.destruct()

fixed_network_params = network_params.copy()
fixed_network_params['name'] = 'fixed_model'
fixedModel = Basic(fixed_network_params) # instantiate a basic vanilla RNN we will compare to later on

weights = fixedModel.get_weights()

plot_weights(weights['W_rec'])

# Set fixed weight matrices to the default -- fully trainable
W_in_fixed = np.zeros((N_rec,N_in))
W_rec_fixed = np.zeros((N_rec,N_rec))
W_out_fixed = np.zeros((N_out, N_rec))

# Specify certain weights to fix. 
W_rec_fixed[N_rec//5*4:, :4*N_rec//5] = 1
W_rec_fixed[:4*N_rec//5, N_rec//5*4:] = 1


# Specify the fixed weights parameters in train_params
train_params = {}
train_params['fixed_weights'] = {
    'W_in': W_in_fixed,
    'W_rec': W_rec_fixed,
    'W_out': W_out_fixed
}

losses, initialTime, trainTime = fixedModel.train(pd, train_params)

weights = fixedModel.get_weights()

plot_weights(weights['W_rec'])

fixedModel.destruct()

weights['W_rec'][N_rec//5*4:, :4*N_rec//5] = np.mean(weights['W_rec'][N_rec//5*4:, :4*N_rec//5])
weights['W_rec'][:4*N_rec//5, N_rec//5*4:] = np.mean(weights['W_rec'][:4*N_rec//5, N_rec//5*4:])

fixed_network_params = network_params.copy()
fixed_network_params['name'] = 'fixed_model_clearer'
for key, value in weights.items():
    fixed_network_params[key] = value
fixedModelClearer = Basic(fixed_network_params) # instantiate an RNN loading the revised weights from the previous model

weights = fixedModelClearer.get_weights()

plot_weights(weights['W_rec'])

losses, initialTime, trainTime = fixedModelClearer.train(pd, train_params)

weights = fixedModelClearer.get_weights()

plot_weights(weights['W_rec'])

fixedModelClearer.destruct()