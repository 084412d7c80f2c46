"""Checkpoints researchers actually have, loaded by the engine without running the pickle:
whole pickled models (torch.save(model)) and torch.nn.utils.prune's X_orig/X_mask pairs."""
import os
import pickle
import sys
import textwrap

import pytest
import torch
import torch.nn.utils.prune as prune

from crossbar_lens_train.models import DigitsCNN, ModelError, extract_state_dict, load_checkpoint, load_weights
from crossbar_lens_train.safe_pickle import Record, loads


@pytest.fixture
def user_module(tmp_path):
    """A model class in the user's own module whose import, construction or unpickling touches a marker."""
    marker = tmp_path / "ran"
    (tmp_path / "users_models.py").write_text(textwrap.dedent(f"""
        from crossbar_lens_train.models import DigitsCNN
        open({str(marker)!r}, "w").close()

        class UsersNet(DigitsCNN):
            def __setstate__(self, state):
                open({str(marker)!r}, "w").close()
                super().__setstate__(state)
    """))
    sys.path.insert(0, str(tmp_path))
    import users_models  # noqa: F401  (the pickle must name users_models.UsersNet)
    yield users_models, marker
    sys.path.remove(str(tmp_path))
    sys.modules.pop("users_models", None)


@pytest.mark.parametrize("legacy", [False, True])
def test_whole_model_reads_as_data_without_importing_its_class(tmp_path, user_module, legacy):
    users_models, marker = user_module
    model = users_models.UsersNet()
    path = tmp_path / "whole.pt"
    torch.save(model, path, _use_new_zipfile_serialization=not legacy)
    os.remove(marker)
    sys.modules.pop("users_models", None)  # a fresh process would have to import it
    obj = load_checkpoint(str(path))
    assert isinstance(obj, Record) and obj.qualname == "users_models.UsersNet"
    state = extract_state_dict(obj, str(path))
    assert list(state) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key
    fresh = DigitsCNN()
    load_weights(fresh, str(path))
    assert torch.equal(fresh.conv2.weight, model.conv2.weight)
    assert not marker.exists(), "the user's module was imported or its code run"
    assert "users_models" not in sys.modules


def test_calling_an_unknown_class_is_refused(tmp_path):
    class Reducing:
        def __reduce__(self):
            return (os.system, ("true",))
    with pytest.raises(pickle.UnpicklingError, match="refused global (posix|nt|os).system"):
        loads(pickle.dumps(Reducing(), protocol=2))
    # A record has its BUILD state and nothing else: no attributes, no methods.
    torch.save(torch.nn.Conv2d(1, 1, 1), tmp_path / "conv.pt")
    record = load_checkpoint(str(tmp_path / "conv.pt"))
    assert isinstance(record, Record) and record.qualname == "torch.nn.modules.conv.Conv2d"
    assert not hasattr(record, "weight") and not hasattr(record, "forward") and "weight" in record.state["_parameters"]


def test_prune_pairs_load_as_the_effective_weights(tmp_path, capsys):
    model = DigitsCNN()
    prune.l1_unstructured(model.conv2, "weight", amount=0.7)
    prune.ln_structured(model.conv3, "weight", amount=0.5, n=2, dim=0)
    path = tmp_path / "pruned.pt"
    torch.save(model.state_dict(), path)
    fresh = DigitsCNN()
    load_weights(fresh, str(path))
    assert torch.equal(fresh.conv2.weight, model.conv2.weight_orig * model.conv2.weight_mask)
    assert torch.equal(fresh.conv3.weight, model.conv3.weight_orig * model.conv3.weight_mask)
    assert float((fresh.conv2.weight == 0).float().mean()) >= 0.7
    assert "conv2.weight, conv3.weight pruned with torch.nn.utils.prune" in capsys.readouterr().err
    # The same pruned model saved whole.
    torch.save(model, tmp_path / "pruned_whole.pt")
    whole = DigitsCNN()
    load_weights(whole, str(tmp_path / "pruned_whole.pt"))
    assert torch.equal(whole.conv2.weight, fresh.conv2.weight)


def test_a_mask_without_its_orig_is_not_folded(tmp_path):
    state = {"conv.weight": torch.ones(2, 2), "conv.weight_mask": torch.zeros(2, 2)}
    torch.save(state, tmp_path / "odd.pt")
    assert set(extract_state_dict(load_checkpoint(str(tmp_path / "odd.pt")), "odd")) == set(state)
    with pytest.raises(ModelError, match="no state dict"):
        extract_state_dict(loads(pickle.dumps(Record("x"))), "record")
