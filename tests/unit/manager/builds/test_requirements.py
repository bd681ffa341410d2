"""What a deployed requirements.txt may ask for (no I/O: files come from a dict)."""

from __future__ import annotations

import pytest

from mvi._exceptions import InvalidDeployment
from mvi.manager.builds.requirements import RequirementsPlan, plan_requirements

SDK = "0.1.0"


def plan(files: dict[str, str], *, allow: bool = False) -> RequirementsPlan:
    return plan_requirements(files.get, allow_index_options=allow, sdk_version=SDK)


@pytest.mark.parametrize(
    "line",
    [
        "numpy==1.26.4",
        "requests[socks]>=2.31,<3",
        'tomli>=2 ; python_version < "3.11"',
        "six==1.16.0 --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e02",
        "pandas  # a comment",
    ],
)
def test_named_requirements_pass_as_written(line: str) -> None:
    checked = plan({"requirements.txt": line + "\n"})
    assert checked.requirements == (line.split("  #")[0],)
    assert not checked.local_paths and checked.warnings == ()


@pytest.mark.parametrize(
    ("line", "placed"),
    [
        ("./pkg", "{root}/pkg"),
        ("-e ./pkg", "-e {root}/pkg"),
        ("-e .", "-e {root}"),
        ("--editable=./lib/x", "-e {root}/lib/x"),
        ("./pkg[extra]", "{root}/pkg[extra]"),
        ("mypkg @ file:pkg", "mypkg @ file://{root}/pkg"),
        ("wheels/a-1.0-py3-none-any.whl", "{root}/wheels/a-1.0-py3-none-any.whl"),
    ],
)
def test_paths_inside_the_project_are_placed_under_its_root(line: str, placed: str) -> None:
    checked = plan({"requirements.txt": line})
    assert checked.requirements == (placed,)
    assert checked.local_paths
    root = "/data/services/x/1"
    assert checked.text(root)[0] == placed.replace("{root}", root) + "\n"


def test_included_files_inside_are_followed_relative_to_their_folder() -> None:
    files = {
        "requirements.txt": "-r reqs/base.txt\n-c constraints.txt\nflask\n",
        "reqs/base.txt": "--requirement=more.txt\n-e ../src/pkg\n-r base.txt\n",
        "reqs/more.txt": "numpy\n",
        "constraints.txt": "numpy<2\n",
    }
    checked = plan(files)
    assert checked.requirements == ("numpy", "-e {root}/src/pkg", "flask")
    assert checked.constraints == ("numpy<2",)


@pytest.mark.parametrize(
    ("files", "named"),
    [
        ({"requirements.txt": "-r /etc/passwd"}, "requirements.txt line 1"),
        ({"requirements.txt": "flask\n-r ../../registry.txt"}, "requirements.txt line 2"),
        ({"requirements.txt": "-r a.txt", "a.txt": "\n\n-c ../x.txt"}, "a.txt line 3"),
        ({"requirements.txt": "/some/dir"}, "requirements.txt line 1"),
        ({"requirements.txt": "-e /opt/src/pkg"}, "requirements.txt line 1"),
        ({"requirements.txt": "../outside"}, "requirements.txt line 1"),
        ({"requirements.txt": "pkg @ file:///etc/pkg"}, "requirements.txt line 1"),
        ({"requirements.txt": "file:../pkg"}, "requirements.txt line 1"),
        ({"requirements.txt": "-r https://example.com/r.txt"}, "requirements.txt line 1"),
        ({"requirements.txt": "~/pkg"}, "requirements.txt line 1"),
    ],
)
def test_paths_outside_the_project_are_refused_naming_the_line(
    files: dict[str, str], named: str
) -> None:
    with pytest.raises(InvalidDeployment, match=named) as caught:
        plan(files, allow=True)  # allowing index options never opens a path
    assert caught.value.status_code == 422
    assert "outside" in str(caught.value) or "inside" in str(caught.value)


@pytest.mark.parametrize(
    "line",
    [
        "--index-url https://evil.example/simple",
        "-i https://evil.example/simple",
        "--extra-index-url=https://evil.example/simple",
        "-f https://evil.example/wheels",
        "--find-links /opt/wheels",
        "--trusted-host evil.example",
        "--no-index",
        "pkg @ https://evil.example/pkg-1.0.tar.gz",
        "git+https://evil.example/pkg.git",
    ],
)
def test_index_options_and_urls_need_the_managers_consent(line: str) -> None:
    with pytest.raises(InvalidDeployment, match="MVI_MANAGER_ALLOW_INDEX_OPTIONS"):
        plan({"requirements.txt": f"flask\n{line}\n"})
    assert line in plan({"requirements.txt": line}, allow=True).requirements


@pytest.mark.parametrize("line", ["--pre", "--user", "-x", "--target /tmp"])
def test_other_options_are_refused(line: str) -> None:
    with pytest.raises(InvalidDeployment, match="only -r, -c, -e and --hash"):
        plan({"requirements.txt": line}, allow=True)


def test_an_included_file_that_is_missing_is_named() -> None:
    with pytest.raises(InvalidDeployment, match=r"requirements\.txt line 1: the file more\.txt"):
        plan({"requirements.txt": "-r more.txt"})


def test_no_requirements_file_installs_nothing() -> None:
    assert plan({}) == RequirementsPlan()


def test_continuation_lines_are_one_requirement() -> None:
    checked = plan({"requirements.txt": "six==1.16.0 \\\n    --hash=sha256:abc\nflask\n"})
    assert checked.requirements == ("six==1.16.0      --hash=sha256:abc", "flask")


@pytest.mark.parametrize("line", ["mvi", "mvi>=0.1", "MVI==0.1.0", "mvi[cli]"])
def test_mvi_of_the_managers_version_is_dropped_with_a_note(line: str) -> None:
    checked = plan({"requirements.txt": f"{line}\nflask\n"})
    assert checked.requirements == ("flask",)
    assert checked.sdk_pins and "manager's own mvi 0.1.0" in checked.warnings[0]
    assert "asks for" not in checked.warnings[0]


@pytest.mark.parametrize("line", ["mvi==9.9.9", "mvi<0.1", "mvi @ https://x.example/mvi.whl"])
def test_mvi_of_another_version_is_dropped_with_a_warning(line: str) -> None:
    checked = plan({"requirements.txt": line}, allow=True)
    assert checked.requirements == ()
    assert "asks for" in checked.warnings[0] and "no second SDK" in checked.warnings[0]
