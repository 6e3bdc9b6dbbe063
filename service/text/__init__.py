"""Text processing shared by articles and query terms: normalise, tokenise, identify the language.

Pure functions only: no I/O (py3langid's model is read from its own wheel on first use), no clock,
no logging.
"""

from service.text.language import detect_language
from service.text.normalise import Normalised, normalise, normalise_with_offsets
from service.text.tokenise import Token, tokenise

__all__ = [
    "Normalised",
    "Token",
    "detect_language",
    "normalise",
    "normalise_with_offsets",
    "tokenise",
]
