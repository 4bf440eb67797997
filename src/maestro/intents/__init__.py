"""Text -> intent: the template language, intents.yaml, the matcher, grammar export."""

from maestro.intents.library import EmptyLibrary, LibraryItem, LibraryProvider, StaticLibrary
from maestro.intents.matcher import Matcher
from maestro.intents.recognition import NameValue, Recognition
from maestro.intents.spec import IntentFileError, IntentSpec, load_spec

__all__ = [
    "EmptyLibrary",
    "IntentFileError",
    "IntentSpec",
    "LibraryItem",
    "LibraryProvider",
    "Matcher",
    "NameValue",
    "Recognition",
    "StaticLibrary",
    "load_spec",
]
