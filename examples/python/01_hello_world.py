"""PsychRNN's "Hello World" (docs/notebooks/Minimal_Example.ipynb) on psychrnn_rs.

Changed from PsychRNN: the first word of the two imports (psychrnn -> psychrnn_rs). Left out: the
notebook's Colab/TensorFlow set-up cell and `%matplotlib inline` (a Jupyter command).
"""
from matplotlib import pyplot as plt

# ---------------------- Import the package ---------------------------
from psychrnn_rs.tasks.perceptual_discrimination import PerceptualDiscrimination
from psychrnn_rs.backend.models.basic import Basic

# ---------------------- Set up a basic model ---------------------------
pd = PerceptualDiscrimination(dt = 10, tau = 100, T = 2000, N_batch = 128)
network_params = pd.get_task_params() # get the params passed in and defined in pd
network_params['name'] = 'model' # name the model uniquely if running mult models in unison
network_params['N_rec'] = 50 # set the number of recurrent units in the model
model = Basic(network_params) # instantiate a basic vanilla RNN

# ---------------------- Train a basic model ---------------------------
model.train(pd) # train model to perform pd task

# ---------------------- Test the trained model ---------------------------
x,target_output,mask, trial_params = pd.get_trial_batch() # get pd task inputs and outputs
model_output, model_state = model.test(x) # run the model on input x

# ---------------------- Plot the results ---------------------------
plt.plot(model_output[0])

# ---------------------- Teardown the model -------------------------
model.destruct()
