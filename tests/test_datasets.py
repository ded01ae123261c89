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


def test_data_home_reads_a_folder_of_the_same_form_by_pattern(tmp_path):
    """An evaluation set may name its files after another period: loaders find them by pattern."""
    from secml_detect.datasets import sequences, urls

    phish = tmp_path / "url_openphish_feed_history"
    phish.mkdir()
    (phish / "MANIFEST.md").write_text("# not data\n")
    (phish / "openphish_firstseen_from_2026-03.csv").write_text(
        "url,first_seen_utc\nhttp://a.example/x,2026-03-02T00:00:00Z\n")
    (phish / "openphish_firstseen_from_2026-05.csv").write_text(
        "url,first_seen_utc\nhttp://b.example/y,2026-05-09T12:00:00Z\n")
    hdfs = tmp_path / "logs_hdfs_deeplog"
    hdfs.mkdir()
    (hdfs / "hdfs_test_normal").write_text("5 5 22\n5 11 9\n")
    (hdfs / "hdfs_test_abnormal").write_text("5 26 26 26\n")
    (tmp_path / "domain_opendns_benign").mkdir()
    (tmp_path / "domain_opendns_benign" / "opendns-random-domains.txt").write_text("quiet-shop.example\n\n")

    with datasets.data_home(tmp_path):
        found, seen = urls.load_openphish()
        sessions, labels = sequences.load_hdfs()
        assert urls.load_opendns_random() == ["quiet-shop.example"]
        with pytest.raises(datasets.DatasetNotFoundError, match="top"):
            urls.load_opendns_top()
        with pytest.raises(datasets.DatasetNotFoundError, match="adfa_ld"):
            sequences.load_adfa_ld()
    assert found == ["http://a.example/x", "http://b.example/y"]
    assert str(seen[1]) == "2026-05-09T12:00:00"
    assert sessions == [[5, 5, 22], [5, 11, 9], [5, 26, 26, 26]] and labels.tolist() == [0, 0, 1]
    # The block's folder is forgotten on leaving it.
    assert datasets._HOME_OVERRIDE.get() is None


def test_evaluation_data_home(monkeypatch, tmp_path):
    monkeypatch.delenv(datasets.EVAL_ENV_VAR, raising=False)
    assert datasets.evaluation_data_home() is None
    monkeypatch.setenv(datasets.EVAL_ENV_VAR, str(tmp_path))
    assert datasets.evaluation_data_home() == tmp_path
    monkeypatch.setenv(datasets.EVAL_ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(datasets.DatasetNotFoundError, match="SECML_DETECT_EVAL_DATA"):
        datasets.evaluation_data_home()
    with pytest.raises(datasets.DatasetNotFoundError, match="not a folder"):
        with datasets.data_home(tmp_path / "missing"):
            pass
