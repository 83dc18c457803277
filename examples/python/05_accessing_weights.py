"""PsychRNN's "Accessing and Modifying Weights" (docs/notebooks/SavingLoadingWeights.ipynb) on
psychrnn_rs: load a saved weight file, silence part of W_rec, save it, and build networks from
the file (load_weights_path) and from the dict.

Changed from PsychRNN: the first word of the import (psychrnn -> psychrnn_rs). It reads
./weights/saved_weights.npz, which 02_simple_example.py writes (the notebook's first cell makes
the file when it is missing); left out: that cell.
"""
import numpy as np
weights = dict(np.load('./weights/saved_weights.npz', allow_pickle = True))
weights['W_rec'][:10, :10] = 0

print(weights.keys())

np.savez('./weights/modified_saved_weights.npz', **weights)

from psychrnn_rs.backend.models.basic import Basic

network_params = {'N_batch': 50,
                  'N_in': 2,
                  'N_out': 2,
                  'dt': 10,
                  'tau': 100,
                  'T': 2000,
                  'N_steps': 200,
                  'N_rec': 50
                 }

file_network_params = network_params.copy()
file_network_params['name'] = 'file'
file_network_params['load_weights_path'] = './weights/modified_saved_weights.npz'

fileModel = Basic(file_network_params)

print(fileModel.get_weights()['W_rec'][:10,:10])

fileModel.destruct()

dict_network_params = network_params.copy()
dict_network_params['name'] = 'dict'
dict_network_params.update(weights)
type(dict_network_params['dale_ratio']) == np.ndarray and dict_network_params['dale_ratio'].item() is None

dictModel = Basic(dict_network_params)

print(dictModel.get_weights()['W_rec'][:10,:10])

dictModel.destruct()