"""data/trials.yaml: trials are configuration, read with every problem reported at once."""
from pathlib import Path

import pytest
import yaml

from fact22_assets.core.census.config import TrialConfigError, collection_year_of, load_trials

TRIALS = Path(__file__).resolve().parents[3] / "data" / "trials.yaml"


def test_the_shipped_trials():
    trials = {t.trial_id: t for t in load_trials(TRIALS)}
    assert set(trials) == {"fact22_crewe", "illustration_enfield"}
    fact22 = trials["fact22_crewe"]
    assert fact22.arms == ("FACT22", "CEC") and fact22.authority_code == "E06000049"
    assert fact22.binary_outcomes == ("closed", "rereferred", "escalated") and fact22.models_case_length
    assert fact22.collection_years == (2015, 2016, 2017, 2018, 2019, 2020) and fact22.synthetic
    assert fact22.extract("service_information").options["locations"] == ["Crewe", "Macclesfield", "Unknown"]
    enfield = trials["illustration_enfield"]
    assert enfield.authority_code == "E09000010" and enfield.extract("risk_notes") is None


def test_collection_years():
    from datetime import date

    assert collection_year_of(date(2015, 8, 1)) == 2016
    assert collection_year_of(date(2016, 3, 31)) == 2016
    assert collection_year_of(date(2016, 4, 1)) == 2017


def _write(tmp_path, change) -> Path:
    document = yaml.safe_load(TRIALS.read_text())
    change(document["trials"])
    path = tmp_path / "trials.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_every_problem_of_every_trial_in_one_error(tmp_path):
    def break_them(trials):
        trials[0]["arms"] = {"treated": "FACT22", "control": "FACT22"}
        trials[0]["outcomes"] = ["closures", "referrals"]
        trials[1]["authority"] = "Enfield"
        trials[1]["covariates"] = ["female", "other_cin_in_family", "shoe_size"]
        trials[1]["list_columns"] = []
        trials[1]["census"]["collection_years"] = [2020, 2022]

    with pytest.raises(TrialConfigError) as caught:
        load_trials(_write(tmp_path, break_them))
    text = str(caught.value)
    for words in ("arms needs two different names", "outcomes ['referrals']", "authority must be an ONS",
                  "covariates ['shoe_size'] unknown", "name them in list_columns",
                  "every collection year from 2020 to 2022"):
        assert words in text, words


def test_a_trial_id_used_twice_is_refused(tmp_path):
    with pytest.raises(TrialConfigError, match="used twice"):
        load_trials(_write(tmp_path, lambda trials: trials.append(dict(trials[0]))))


def test_a_council_trial_lists_its_returns(tmp_path):
    def council(trials):
        trials[1]["data_origin"] = "COUNCIL"
        trials[1]["census"] = {"returns": [{"collection_year": y, "file": f"census/cin_{y}.xml"}
                                           for y in (2022, 2020, 2021)]}

    trial = {t.trial_id: t for t in load_trials(_write(tmp_path, council))}["illustration_enfield"]
    assert not trial.synthetic
    assert [r.file for r in trial.returns] == ["census/cin_2020.xml", "census/cin_2021.xml", "census/cin_2022.xml"]


def test_returns_and_synthetic_are_one_or_the_other(tmp_path):
    def both(trials):
        trials[1]["census"]["returns"] = [{"collection_year": 2020, "file": "x.xml"}]

    with pytest.raises(TrialConfigError, match="not both or neither"):
        load_trials(_write(tmp_path, both))
