"""newsalert: streaming news alerts for Arabic, Persian and English feeds."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("newsalert")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0"

# How newsalert names itself to every server it talks to: feeds, article pages, Bot API, webhooks.
USER_AGENT = f"newsalert/{__version__} (+https://pypi.org/project/newsalert/)"
