import pytest

from secml_detect import datasets


def test_missing_shared_data_gives_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "_candidates", lambda: [tmp_path / "nowhere"])
    with pytest.raises(datasets.DatasetNotFoundError, match="SECML_DETECT_DATA"):
        datasets.shared_data_home()
    assert not datasets.has_shared_data()


def test_env_var_wins(monkeypatch, tmp_path):
    (tmp_path / "myset").mkdir()
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path))
    assert datasets.shared_dataset_path("myset") == tmp_path / "myset"
    with pytest.raises(datasets.DatasetNotFoundError):
        datasets.shared_dataset_path("other")


def test_bundled_readme_present():
    assert datasets.bundled_path("README.md").read_text().startswith("# Bundled samples")
    with pytest.raises(datasets.DatasetNotFoundError):
        datasets.bundled_path("nope.csv")


@pytest.mark.shared_data
def test_shared_datasets_have_manifests(shared_dataset):
    assert shared_dataset("url_openphish_feed_history", "MANIFEST.md").is_file()
