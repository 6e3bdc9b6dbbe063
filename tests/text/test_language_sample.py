"""The statistical model reads a bounded sample: cut at a space, and still naming the language."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.text import detect_language
from service.text.language import MODEL_SAMPLE, _model_sample

ENGLISH = (
    "Rockets struck a military base near Baghdad International Airport on Wednesday evening, "
    "officials said, and the ministry confirmed that two drones were shot down over the north. "
)


@given(st.text(alphabet=st.sampled_from(list("ab c")), max_size=2 * MODEL_SAMPLE))
def test_the_sample_is_a_prefix_of_at_most_the_model_sample(text: str) -> None:
    sample = _model_sample(text)
    assert text.startswith(sample)
    assert len(sample) <= MODEL_SAMPLE
    if len(text) <= MODEL_SAMPLE:
        assert sample == text
    elif " " in text[MODEL_SAMPLE // 2 : MODEL_SAMPLE]:
        assert text[len(sample)] == " "  # no word is cut in two


def test_a_long_english_article_is_still_english() -> None:
    assert detect_language(ENGLISH * 40) == "en"


def test_a_long_arabic_article_is_decided_by_its_letters(seed_text: str) -> None:
    assert detect_language(seed_text * 5) == "ar"
