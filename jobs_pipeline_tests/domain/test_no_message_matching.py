"""No module in ``jobs_pipeline/`` classifies errors by their message text."""

from pathlib import Path

import pytest

import jobs_pipeline
from jobs_pipeline_tests.domain.message_scan import scan_source, scan_tree

PACKAGE = Path(jobs_pipeline.__file__).parent


def test_no_module_reads_exception_messages_to_decide() -> None:
    assert len(list(PACKAGE.rglob("*.py"))) > 20  # we really scanned the package
    findings = scan_tree(PACKAGE)
    assert not findings, "classify by type/code/errno, not message text:\n" + "\n".join(map(str, findings))


BAD = {
    "in-str": "try:\n    f()\nexcept Exception as e:\n    if 'timeout' in str(e):\n        retry()\n",
    "lower": "try:\n    f()\nexcept OSError as exc:\n    transient = 'reset' in str(exc).lower()\n",
    "args-eq": "try:\n    f()\nexcept Exception as err:\n    if err.args[0] == 'Connection refused':\n        pass\n",
    "in-args": "try:\n    f()\nexcept Exception as e:\n    ok = 'throttl' in e.args\n",
    "startswith": "try:\n    f()\nexcept Exception as error:\n    if repr(error).startswith('Timeout'):\n        pass\n",
    "fstring": "try:\n    f()\nexcept Exception as e:\n    if 'SlowDown' in f'{e}':\n        pass\n",
    "regex": "import re\ntry:\n    f()\nexcept Exception as e:\n    m = re.search('Throttl', str(e))\n",
    "param": "def is_transient(exc: BaseException) -> bool:\n    return 'temporarily' in str(exc)\n",
    "message-attr": "def f(e: Exception):\n    return e.message == 'Rate exceeded'\n",
}


@pytest.mark.parametrize("source", BAD.values(), ids=BAD.keys())
def test_scanner_catches_message_matching(source: str) -> None:
    assert scan_source(source), "the scan must flag this"


GOOD = {
    "type": "try:\n    f()\nexcept ConnectionError as e:\n    retry()\n",
    "code": "try:\n    f()\nexcept ClientError as e:\n    code = e.response['Error']['Code']\n    ok = code in CODES\n",
    "errno": "try:\n    f()\nexcept OSError as e:\n    ok = e.errno in ERRNOS\n",
    "log": "try:\n    f()\nexcept Exception as e:\n    log.warning('failed: %s', e)\n    msg = str(e)[:500]\n",
}


@pytest.mark.parametrize("source", GOOD.values(), ids=GOOD.keys())
def test_scanner_leaves_structured_checks_alone(source: str) -> None:
    assert scan_source(source) == []
