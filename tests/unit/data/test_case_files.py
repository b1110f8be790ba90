"""model.data.case_files: a case path names a file inside the data folder or gets the one refusal."""

from __future__ import annotations

import os

import pytest

from model.data.case_files import CaseFileError, read_case, resolve_case
from model.data.scan import MAX_FILE_BYTES


@pytest.fixture
def data_dir(tmp_path):
    root = tmp_path / "data"
    (root / "yes").mkdir(parents=True)
    (root / "yes" / "Y1.jpg").write_bytes(b"scan bytes")
    (root / "no").mkdir()
    (tmp_path / "outside.png").write_bytes(b"secret")
    os.symlink(tmp_path / "outside.png", root / "yes" / "link.png")  # a symlink leading out
    os.symlink(root / "yes" / "Y1.jpg", root / "no" / "inside_link.jpg")  # one staying inside
    (root / "yes" / "folder.jpg").mkdir()
    os.mkfifo(root / "yes" / "fifo.png")
    return root


def test_a_case_inside_the_folder_is_read(data_dir):
    assert read_case(data_dir, "yes/Y1.jpg") == b"scan bytes"
    assert read_case(data_dir, "no/inside_link.jpg") == b"scan bytes"
    assert resolve_case(data_dir, "yes/./Y1.jpg") == (data_dir / "yes" / "Y1.jpg").resolve()


REFUSED = [
    "yes/absent.jpg",  # missing
    "../outside.png",  # outside by ..
    "yes/../../outside.png",
    "OUTSIDE_ABSOLUTE",  # replaced by the absolute path of outside.png
    "yes/link.png",  # outside through a symlink
    "yes/folder.jpg",  # not a file
    "yes/fifo.png",  # not a regular file (reading would block)
    "",
    "yes\\..\\..\\outside.png",
    "yes/\x00Y1.jpg",
    "yes/" + "a" * 300,  # a name over NAME_MAX: refused without asking the file system
    "x/" * 3000,  # longer than any path
]


@pytest.mark.parametrize("case", REFUSED, ids=range(len(REFUSED)))
def test_every_other_case_gets_the_same_sentence(data_dir, case):
    case = str(data_dir.parent / "outside.png") if case == "OUTSIDE_ABSOLUTE" else case
    with pytest.raises(CaseFileError) as err:
        read_case(data_dir, case)
    message = str(err.value)
    assert "is not a readable file inside the data folder" in message
    assert message.replace(case[:120], "CASE") == message.replace(case[:120], "CASE")  # no reason given
    assert "secret" not in message


def test_the_sentence_does_not_tell_missing_from_outside(data_dir):
    def reason(case: str) -> str:
        with pytest.raises(CaseFileError) as err:
            read_case(data_dir, case)
        return str(err.value).replace(case, "CASE")

    assert reason("yes/absent.jpg") == reason("../outside.png") == reason("yes/link.png")


def test_an_unreadable_file_gets_the_same_sentence(data_dir, monkeypatch):
    def denied(*args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(CaseFileError, match="not a readable file inside the data folder"):
        read_case(data_dir, "yes/Y1.jpg")


def test_reading_stops_after_the_upload_limit(data_dir):
    (data_dir / "yes" / "big.png").write_bytes(bytes(MAX_FILE_BYTES + 1000))
    assert len(read_case(data_dir, "yes/big.png")) == MAX_FILE_BYTES + 1
