"""The README walkthrough's check (tests/support/readme.py) catches a sample that drifted
from the real answer: another key, another order, a missing one."""

from tests.support import readme

REAL = '{"data_set_id":1,"id":1,"public_id":"conv_1","started_at":"2026","summary":null}'
BLOCK = '''## Walkthrough with curl

```sh
B=http://x
R=$(curl -s -X POST $B/api/conversations \\
     -d '{"data_set_id": 1}'); echo "$R"
# {"data_set_id": 1, "id": 1, "public_id": "conv_…", "started_at": "…",
#  "summary": null}

# a comment, not a sample
curl -s $B/x
```

## Next
'''


def test_statements_join_continued_lines_and_take_the_sample_under_them():
    found = readme.statements(readme.section(BLOCK, "Walkthrough with curl"))

    assert [s.command.splitlines()[0] for s in found] == [
        "B=http://x", "R=$(curl -s -X POST $B/api/conversations \\", "curl -s $B/x"]
    assert found[1].sample.startswith('{"data_set_id": 1')
    assert found[2].sample == ""


def test_a_true_sample_matches():
    sample = '{"data_set_id": 1, "id": 1, "public_id": "conv_…", "started_at": "…", "summary": null}'
    assert readme.matches(sample, REAL) is None
    # An elided sample shows some keys, in order.
    assert readme.matches('{"id": 1, …, "summary": null}', REAL) is None


def test_a_drifted_sample_is_caught():
    missing = '{"data_set_id": 1, "id": 1, "started_at": "…", "summary": null}'
    reordered = '{"id": 1, "data_set_id": 1, "public_id": "c", "started_at": "…", "summary": null}'
    elided_out_of_order = '{"summary": null, …, "id": 1}'

    assert "public_id" in readme.matches(missing, REAL)
    assert readme.matches(reordered, REAL) is not None
    assert readme.matches(elided_out_of_order, REAL) is not None
    assert "not JSON" in readme.matches(missing, "Internal Server Error")
