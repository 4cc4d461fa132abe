import zipfile

import pytest

from aiops.failure.training.backblaze import BackblazeFormatError, discover_day_files, load_drive_stats

from tests.unit.failure.synthetic import synthetic_fleet, write_backblaze_folder


def test_loads_gz_folder_sorted_with_missing_columns_as_nan(tmp_path):
    df = synthetic_fleet(10, 8)
    write_backblaze_folder(df, tmp_path / "bb" / "Data")
    out = load_drive_stats(tmp_path / "bb", smart_ids=(5, 197, 242))
    assert len(out) == len(df)
    assert out["smart_242_raw"].isna().all()
    assert list(out.columns[:5]) == ["date", "serial_number", "model", "capacity_bytes", "failure"]
    assert out.sort_values(["serial_number", "date"]).index.equals(out.index)
    assert out.failure.sum() == df.failure.sum()


def test_reads_quarterly_zip_and_date_bounds(tmp_path):
    df = synthetic_fleet(6, 6)
    loose = write_backblaze_folder(df, tmp_path / "loose", gz=False)
    with zipfile.ZipFile(tmp_path / "data_Q2_2013.zip", "w") as zf:
        for p in sorted(loose.iterdir()):
            zf.write(p, f"data_Q2_2013/{p.name}")
    zdir = tmp_path / "zipped"; zdir.mkdir()
    (tmp_path / "data_Q2_2013.zip").rename(zdir / "data_Q2_2013.zip")
    assert len(discover_day_files(zdir)) == df.date.nunique()
    out = load_drive_stats(zdir, start="2013-04-12", end="2013-04-13")
    assert set(out.date.dt.strftime("%Y-%m-%d")) <= {"2013-04-12", "2013-04-13"}
    assert len(out) == int(df.date.between("2013-04-12", "2013-04-13").sum())


def test_model_filter_and_errors(tmp_path):
    df = synthetic_fleet(9, 5)
    write_backblaze_folder(df, tmp_path / "bb")
    out = load_drive_stats(tmp_path / "bb", models=["WDC WD10EADS"])
    assert set(out.model) == {"WDC WD10EADS"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackblazeFormatError):
        load_drive_stats(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        load_drive_stats(tmp_path / "nope")
