"""The code examples of the READMEs, for the tests that run them as written: a block marked
`<!-- example: NAME -->` right before its fenced ```python block."""

from __future__ import annotations

import re
from pathlib import Path

from harness import REPO_ROOT

PYTHON_README = REPO_ROOT / "sdk-python" / "README.md"
MAIN_README = REPO_ROOT / "README.md"


def readme_example(name: str, readme: Path = PYTHON_README) -> str:
    """The code of the example `name` in `readme`."""
    match = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", readme.read_text(), re.S)
    assert match, f"no example {name} in {readme}"
    return match.group(1)


def run_example(name: str, readme: Path = PYTHON_README, **names) -> dict:
    """Runs the example `name` with `names` defined; returns its namespace."""
    namespace = {"__name__": f"readme_{name}", **names}
    exec(compile(readme_example(name, readme), f"{readme.name}:{name}", "exec"), namespace)
    return namespace
