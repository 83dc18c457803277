"""PsychRNN's eight tutorials (examples/python/0*.py) run as scripts, in order, in one directory
(tutorials 5 and 6 read the weights tutorial 2 saves), at a small size: every ``train`` call
and manifest training is capped at 2560 trials. Each must run to its end; what they compute is
checked in test_psychrnn_api.py and test_workflow.py. Tutorial 8 needs the example model's plugin
library (`cargo build --release -p psychrnn-example-new-model`, which .ci/run does)."""

import runpy

import pytest

from conftest import EXAMPLES

import psychrnn_rs
from psychrnn_rs.backend import rnn

TUTORIALS = sorted(p.name for p in EXAMPLES.glob("0*.py"))


def test_there_are_eight_tutorials():
    assert len(TUTORIALS) == 8, TUTORIALS


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("tutorials")


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_runs(name, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    train = rnn.RNN.train

    def small_train(self, generator, train_params={}):  # noqa: B006
        params = dict(train_params or {})
        params["training_iters"] = min(int(params.get("training_iters", 50000)), 2560)
        params["verbosity"] = False
        return train(self, generator, params)

    monkeypatch.setattr(rnn.RNN, "train", small_train)
    train_manifest = psychrnn_rs.train_manifest

    def small_train_manifest(manifest, *args, **kwargs):
        manifest = dict(manifest, training=dict(manifest.get("training", {}), training_iters=2560))
        return train_manifest(manifest, *args, **kwargs)

    monkeypatch.setattr(psychrnn_rs, "train_manifest", small_train_manifest)
    import matplotlib.pyplot as plt

    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    plt.close("all")
