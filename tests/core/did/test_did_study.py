"""Study configuration: built from a YAML-like mapping, with every problem named."""

import pytest

from fact22_assets.core.did import FACT22, RankingRule, Study, StudyConfigError

VALID = {
    "study_id": "fact22_strand1",
    "treated_unit_code": "E06000049",
    "first_post_year": 2016,
    "pre_years": [2011, 2012, 2013, 2014, 2015],
    "post_years": [2016, 2017, 2018, 2019],
    "outcomes": ["closures_per_10k", "rereferrals_per_10k", "escalations_per_10k"],
}


def test_mapping_builds_the_fact22_default():
    assert Study.from_mapping(VALID) == FACT22
    assert FACT22.study_years == tuple(range(2011, 2020))
    assert FACT22.covariate == "cin_at_31_march"
    assert FACT22.ranking == RankingRule()


def test_ranking_and_covariate_can_be_set():
    study = Study.from_mapping(
        {**VALID, "covariate": None, "ranking": {"pretrend_alpha": 0.05, "weight_demography": 0}}
    )
    assert study.covariate is None
    assert study.ranking == RankingRule(pretrend_alpha=0.05, weight_demography=0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pre_year": [2011]}, "unknown key 'pre_year'"),
        ({"first_post_year": None}, "'first_post_year' must be an integer"),
        ({"pre_years": [2011, 2012]}, "at least 3 years"),
        ({"pre_years": [2013, 2012, 2011]}, "strictly increasing"),
        ({"pre_years": [2011, 2012, "2013"]}, "integer collection years"),
        ({"pre_years": [2011, 2012, 2016]}, "before first_post_year 2016"),
        ({"post_years": [2017, 2018]}, "must start at first_post_year 2016"),
        ({"first_post_year": True}, "'first_post_year' must be an integer"),
        ({"outcomes": "closures_per_10k"}, "non-empty list of outcome column names"),
        ({"outcomes": ["a", "a"]}, "lists a column twice"),
        ({"treated_unit_code": " "}, "'treated_unit_code' must be a non-empty string"),
        ({"ranking": {"pretrend_alpha": 1.5}}, "between 0 and 1"),
        ({"ranking": {"weight_level": -1}}, "'ranking.weight_level' must be a non-negative number"),
        ({"ranking": {"weight_trend": 0, "weight_level": 0, "weight_demography": 0}}, "all be zero"),
        ({"ranking": {"alpha": 0.1}}, "unknown key 'ranking.alpha'"),
    ],
)
def test_invalid_settings_are_named(change, message):
    with pytest.raises(StudyConfigError, match=message):
        Study.from_mapping({**VALID, **change})


def test_missing_keys_are_all_reported():
    config = {k: v for k, v in VALID.items() if k not in ("pre_years", "outcomes")}
    with pytest.raises(StudyConfigError) as error:
        Study.from_mapping(config)
    assert error.value.problems == ["missing key 'outcomes'", "missing key 'pre_years'"]


def test_several_problems_come_in_one_error():
    with pytest.raises(StudyConfigError) as error:
        Study.from_mapping({**VALID, "study_id": "", "post_years": [2018, 2019], "outcomes": []})
    assert len(error.value.problems) == 3


def test_a_mapping_is_required():
    with pytest.raises(StudyConfigError, match="expected a mapping"):
        Study.from_mapping(["E06000049"])
