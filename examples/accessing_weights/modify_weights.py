"""Silence a block of recurrent weights and save the result (needs NumPy).

    python3 examples/accessing_weights/modify_weights.py runs/accessing_weights/original/weights.npz \
        runs/accessing_weights/modified_weights.npz
"""
import sys

import numpy as np

source, target = sys.argv[1], sys.argv[2]
weights = dict(np.load(source))
print({k: v.shape for k, v in weights.items()})
weights["W_rec"][:10, :10] = 0.0          # units 0-9 no longer excite each other
np.savez(target, **weights)
