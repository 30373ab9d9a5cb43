"""Run ``pip install --dry-run`` as if on another platform and Python version.

    python tools/pip_for_platform.py macos-arm64 3.12.10 -r requirements.txt -c constraints.txt

pip's ``--platform`` and ``--python-version`` choose which wheels it accepts, but pip
evaluates environment markers (``sys_platform == "darwin"``, ``python_version < "3.12"``)
against the Python that runs it. This script gives pip's marker evaluation the target's
values, then runs pip with ``--dry-run --only-binary=:all: --platform ... --python-version
...`` and the arguments given: the resolution a student on that machine would get.
Used by tests/test_platforms.py (all twelve pairs, in parallel).
"""

from __future__ import annotations

import sys

# The four platforms students have, with the wheel tags pip accepts there (newest first).
PLATFORMS = {
    "linux-x86_64": {
        "tags": [
            "manylinux_2_28_x86_64",
            "manylinux_2_27_x86_64",
            "manylinux_2_17_x86_64",
            "manylinux2014_x86_64",
            "manylinux2010_x86_64",
            "manylinux1_x86_64",
        ],
        "sys_platform": "linux",
        "platform_machine": "x86_64",
        "platform_system": "Linux",
        "os_name": "posix",
        "tensorflow-cpu": True,
    },
    "linux-aarch64": {
        "tags": [
            "manylinux_2_28_aarch64",
            "manylinux_2_27_aarch64",
            "manylinux_2_17_aarch64",
            "manylinux2014_aarch64",
        ],
        "sys_platform": "linux",
        "platform_machine": "aarch64",
        "platform_system": "Linux",
        "os_name": "posix",
        "tensorflow-cpu": False,
    },
    "macos-arm64": {
        "tags": [
            "macosx_14_0_arm64"
        ],  # pip also accepts older macOS versions' wheels from this
        "sys_platform": "darwin",
        "platform_machine": "arm64",
        "platform_system": "Darwin",
        "os_name": "posix",
        "tensorflow-cpu": False,
    },
    "windows-x86_64": {
        "tags": ["win_amd64"],
        "sys_platform": "win32",
        "platform_machine": "AMD64",
        "platform_system": "Windows",
        "os_name": "nt",
        "tensorflow-cpu": True,
    },
}
# Full versions: some wheels require a patch level (e.g. >= 3.11.5).
PYTHONS = ["3.11.9", "3.12.10", "3.13.5"]


def environment(platform: str, python: str) -> dict[str, str]:
    p = PLATFORMS[platform]
    return {
        "implementation_name": "cpython",
        "implementation_version": python,
        "platform_python_implementation": "CPython",
        "python_full_version": python,
        "python_version": ".".join(python.split(".")[:2]),
        "platform_release": "",
        "platform_version": "",
        "os_name": p["os_name"],
        "sys_platform": p["sys_platform"],
        "platform_machine": p["platform_machine"],
        "platform_system": p["platform_system"],
    }


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in PLATFORMS:
        sys.exit(
            f"usage: pip_for_platform.py {{{'|'.join(PLATFORMS)}}} PYTHON_VERSION [pip install args]"
        )
    platform, python, rest = argv[0], argv[1], argv[2:]
    if python.count(".") != 2:
        sys.exit(f"give a full Python version such as 3.11.9, not {python!r}")
    env = environment(platform, python)
    from pip._vendor.packaging import markers

    markers.default_environment = lambda: dict(
        env
    )  # what Marker.evaluate() starts from
    # `pip install` checks Requires-Python against the running Python, not --python-version
    # (`pip download` passes it on); give the resolver the target version as download does.
    import functools

    from pip._internal.cli.req_command import RequirementCommand

    make_resolver = RequirementCommand.make_resolver

    @functools.wraps(make_resolver)
    def make_target_resolver(*args, **kwargs):
        kwargs["py_version_info"] = tuple(int(n) for n in python.split("."))
        return make_resolver(*args, **kwargs)

    RequirementCommand.make_resolver = staticmethod(make_target_resolver)
    from pip._internal.cli.main import main as pip

    args = [
        "install",
        "--dry-run",
        "--only-binary=:all:",
        "--python-version",
        python,
        "--disable-pip-version-check",
        "--quiet",
    ]
    for tag in PLATFORMS[platform]["tags"]:
        args += ["--platform", tag]
    return pip(args + rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
