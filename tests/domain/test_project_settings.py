"""The typed project settings: one reader, one validated writer."""

from __future__ import annotations

import pytest

from app.domain.project_settings import (
    ProjectSettingsError,
    settings_of,
    update_settings,
)
from app.models import Project


def test_defaults_for_an_empty_bag() -> None:
    s = settings_of(Project(name="p", settings={}))
    assert s.excluded_annotators == ()
    assert s.overlap_by_tag == {}


def test_values_stored_by_older_versions_are_read_leniently() -> None:
    project = Project(
        name="p",
        settings={"excluded_annotators": ["3", 2], "retired_key": 1, "overlap_by_tag": {"code": 3}},
    )
    s = settings_of(project)
    assert s.excluded_annotators == (3, 2)
    assert s.overlap_by_tag == {"code": 3}


def test_a_stored_value_that_no_longer_validates_keeps_the_others() -> None:
    project = Project(
        name="p", settings={"excluded_annotators": [4], "overlap_by_tag": {"code": 99}}
    )
    s = settings_of(project)
    assert s.excluded_annotators == (4,)
    assert s.overlap_by_tag == {}


def test_update_writes_a_new_dict_and_keeps_other_settings() -> None:
    project = Project(name="p", settings={"overlap_by_tag": {"code": 2}})
    before = project.settings
    update_settings(project, excluded_annotators=[5])
    assert project.settings is not before  # the JSON column sees a new value
    assert settings_of(project).excluded_annotators == (5,)
    assert settings_of(project).overlap_by_tag == {"code": 2}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"overlap_by_tag": {"code": 11}}, "overlap_by_tag.code"),
        ({"excluded_annotators": ["x"]}, "excluded_annotators"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_a_bad_value_names_the_setting_and_changes_nothing(changes, message) -> None:
    project = Project(name="p", settings={"overlap_by_tag": {"code": 2}})
    with pytest.raises(ProjectSettingsError, match=message):
        update_settings(project, **changes)
    assert project.settings == {"overlap_by_tag": {"code": 2}}


def test_the_project_recipe_names_a_shipped_recipe_and_wins_over_the_default() -> None:
    from app.domain.project_settings import recipe_of
    from app.settings import Settings

    settings = Settings(pairwise_env="test", secret_key="t" * 48, training_default_recipe="tiny")
    project = Project(name="p", settings={})
    assert recipe_of(project, settings) == "tiny"
    with pytest.raises(ProjectSettingsError, match="recipe.*no recipe 'nope'"):
        update_settings(project, recipe="nope")
    assert recipe_of(project, settings) == "tiny"
    update_settings(project, recipe="demo")
    assert recipe_of(project, settings) == "demo"
