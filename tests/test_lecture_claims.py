"""Every measured-looking number in a lecture's prose is printed by one of its cells.

The lectures run once, under nbval; conftest.py stores them executed in build/executed/ and
runs this test after them. Run alone, it executes each lecture itself (nbclient).
`python tests/lecture_claims.py` lists the unbacked claims per lecture.
"""
import pytest

from lecture_claims import executed_notebook, lecture_stems, unbacked_claims


@pytest.mark.slow
@pytest.mark.parametrize("stem", lecture_stems())
def test_every_number_in_the_prose_is_printed(stem):
    claims = unbacked_claims(stem, executed_notebook(stem))
    assert not claims, f"{stem}: numbers in the prose that no cell printed:\n" + "\n".join(map(str, claims))
