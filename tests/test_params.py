"""params.yaml validation: every mistake is caught before work starts, naming the key."""
import copy
from pathlib import Path

import pytest
import yaml

from pipeline.params import ParamsError, validate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def raw():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def _error(raw) -> str:
    with pytest.raises(ParamsError) as err:
        validate(raw)
    return str(err.value)


def test_the_shipped_params_validate_at_both_scales(raw):
    offline = validate(raw)
    paper = validate({**raw, "scale": "paper"})
    assert offline["mi"].phase1.epochs < paper["mi"].phase1.epochs == 2000
    assert paper["mi"].phase1.batch_size == 512 and paper["mi"].seeds == offline["mi"].seeds


def test_unknown_key_is_rejected_with_its_dotted_name(raw):
    raw["mi"]["phase1"]["epoch"] = 3
    assert _error(raw).startswith("mi.phase1.epoch: unknown key")


def test_unknown_top_level_section_is_rejected(raw):
    raw["mnits"] = {}
    assert _error(raw).startswith("mnits: unknown top-level key")


def test_unknown_key_inside_paper_overrides_is_rejected(raw):
    raw["mi"]["paper"]["phase1"]["lr_decay"] = 0.5
    assert _error(raw).startswith("mi.paper.phase1.lr_decay: unknown key")


def test_wrong_type_is_rejected(raw):
    raw["mi"]["phase1"]["epochs"] = "many"
    assert _error(raw) == "mi.phase1.epochs: must be an integer, got str 'many'"
    raw["mi"]["phase1"]["epochs"] = True
    assert "mi.phase1.epochs: must be an integer" in _error(raw)


def test_negative_epochs_are_impossible(raw):
    raw["mi"]["phase2"]["epochs"] = -3
    assert _error(raw) == "mi.phase2.epochs: must be >= 0, got -3"


def test_lambda_list_of_the_wrong_length_is_rejected(raw):
    raw["mi"]["variants"]["rr6"]["lambdas"] = [0.1, 0.1, 0.1]
    assert _error(raw).startswith("mi.variants.rr6.lambdas: 3 values for 6 constrained layers")


def test_rr_s_beyond_the_network_depth_is_rejected(raw):
    raw["mi"]["variants"]["rr1"]["layers"] = 9
    assert "mi.variants.rr1.layers: RR^9 but the network has 6 layers" in _error(raw)


def test_unknown_variant_kind_and_scale_are_rejected(raw):
    bad = copy.deepcopy(raw)
    bad["mi"]["variants"]["ort"]["kind"] = "orthogonl"
    assert _error(bad).startswith("mi.variants.ort.kind: must be one of")
    raw["scale"] = "huge"
    assert _error(raw).startswith("scale: must be one of")


def test_missing_required_key_is_named(raw):
    del raw["mi"]["seeds"]
    assert _error(raw) == "mi.seeds: missing required key"


def test_a_stage_rejects_bad_params_before_doing_any_work(tmp_path, raw, monkeypatch):
    raw["mi"]["phase1"]["batch_size"] = 0
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    from pipeline import mi_train
    with pytest.raises(ParamsError, match="mi.phase1.batch_size: must be >= 1"):
        mi_train.main(["--phase", "1", "--variant", "std"])
    assert list(tmp_path.iterdir()) == [tmp_path / "params.yaml"]   # nothing written
