"""The readable lines the engine prints on stdout under --events-file: numbers as the CLI writes them."""
from crossbar_lens_train.events import ProgressText, _fixed, format_improvement


def test_numbers_round_as_javascript_to_fixed():
    # JavaScript's toFixed rounds a tie away from zero; Python's format would give 0.12 and 2.
    assert _fixed(0.125, 2) == "0.13"
    assert _fixed(2.5, 0) == "3"
    assert _fixed(-0.125, 2) == "-0.13"
    assert _fixed(-0.0, 4) == "0.0000"
    # 1.0005 is 1.000499999... in binary: no tie.
    assert _fixed(1.0005, 3) == "1.000"


def test_improvement_as_the_cli_formats_it():
    assert format_improvement(None) == "∞ (all crossbars empty)"
    assert format_improvement(2.0) == "2.000×"
    assert format_improvement(12.5) == "12.50×"
    assert format_improvement(250.0) == "250.0×"


def test_an_epoch_line_without_a_loss_or_with_an_empty_model():
    text = ProgressText()
    assert text({"event": "epoch", "phase": "finetune", "epoch": 3, "epochs": 10, "loss": None, "testAccuracy": 97.5,
                 "adcEnergyImprovement": None}) == "finetune 3/10  test 97.50 %  ADC ∞ (all crossbars empty)"
    assert text({"event": "checkpoint", "path": "x", "phase": "finetune", "epoch": 3, "step": 0}) is None
    assert text({"event": "error", "message": "shown on stderr"}) is None
