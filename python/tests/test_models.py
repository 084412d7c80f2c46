"""Model factories and checkpoint loading: the restricted unpickler refuses code, real checkpoints load."""
import os
import pickle
import zipfile

import pytest
import torch

from crossbar_lens_train.crossbar import conv_layers
from crossbar_lens_train.models import DigitsCNN, FashionCNN, ModelError, build_model, extract_state_dict, load_checkpoint, load_weights

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "test", "fixtures", "pytorch")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_checkpoints_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2, 2, 1, 1), "x": _Payload(marker)}, path)  # a real torch.save zip
    with pytest.raises(ModelError, match="refused global"):
        load_checkpoint(str(path))
    legacy = tmp_path / "evil_legacy.pt"
    torch.save({"w": torch.zeros(1), "x": _Payload(marker)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(ModelError, match="refused global"):
        load_checkpoint(str(legacy))
    assert not marker.exists()
    fixture_marker = "/tmp/crossbar-lens-pickle-marker"
    existed = os.path.exists(fixture_marker)
    for name in ("malicious.pt", "malicious_posix.pt", "malicious_eval.pt"):
        with pytest.raises(ModelError, match="refused global"):
            load_checkpoint(os.path.join(FIXTURES, name))
    assert existed or not os.path.exists(fixture_marker)


def test_real_checkpoints_load():
    sd = extract_state_dict(load_checkpoint(os.path.join(REPO, "examples", "digits-cnn.pt")), "digits")
    model = DigitsCNN()
    model.load_state_dict(sd)
    for name in ("legacy.pt", "checkpoint.pth.tar", "lightning.ckpt", "dataparallel.pt", "half.pt"):
        state = extract_state_dict(load_checkpoint(os.path.join(FIXTURES, name)), name)
        assert all(not k.startswith("module.") for k in state)
    with pytest.raises(ModelError, match="TorchScript"):
        load_checkpoint(os.path.join(FIXTURES, "torchscript.pt"))
    with pytest.raises(ModelError, match="cannot be read"):
        load_checkpoint(os.path.join(FIXTURES, "truncated.pt"))


def test_load_weights_reports_mismatch(tmp_path):
    torch.save(DigitsCNN(num_classes=5).state_dict(), tmp_path / "w.pt")
    with pytest.raises(ModelError, match="fc.weight is \\(5, 128\\)"):
        load_weights(DigitsCNN(), str(tmp_path / "w.pt"))
    load_weights(DigitsCNN(num_classes=5), str(tmp_path / "w.pt"))


def test_build_model():
    assert isinstance(build_model(torchvision_name="digits-cnn"), DigitsCNN)
    assert isinstance(build_model(torchvision_name="fashion-cnn"), FashionCNN)
    assert isinstance(build_model("crossbar_lens_train.models:fashion_cnn", num_classes=5), FashionCNN)
    assert build_model(torchvision_name="resnet18", num_classes=7).fc.out_features == 7
    with pytest.raises(ModelError):
        build_model(torchvision_name="nonexistent_net")
    with pytest.raises(ModelError):
        build_model("no_colon_here")
    with pytest.raises(ModelError):
        build_model()


def test_fashion_cnn_is_vgg_like():
    """Seven 3x3 convolutions, each followed by BatchNorm, channels growing to 128; 28x28x1 in, class logits out."""
    model = build_model(torchvision_name="fashion-cnn", num_classes=10)
    convs = [m for _, m in conv_layers(model)]
    assert len(convs) >= 6 and all(c.kernel_size == (3, 3) for c in convs)
    assert [c.out_channels for c in convs] == [16, 32, 32, 64, 64, 128, 128]
    layers = list(model.features)
    assert all(isinstance(layers[layers.index(c) + 1], torch.nn.BatchNorm2d) for c in convs)
    assert tuple(model(torch.zeros(2, 1, 28, 28)).shape) == (2, 10)
