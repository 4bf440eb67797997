"""Maestro's exception tree.

    MaestroError                    a failure the message explains (exit 1)
    ├── UsageError                  bad usage or bad input (exit 2)
    │   ├── ConfigError             a broken config.toml or MAESTRO_* variable
    │   ├── BadFileError            a state file Maestro may not read, or not a plain file (fsutil)
    │   ├── IntentFileError         a broken intents.yaml (intents.spec)
    │   ├── PhrasingError           a correction that cannot be learned as a phrasing (intents.personal)
    │   ├── AliasError              an alias that cannot be, or a broken speakers.yaml (spotify.aliases)
    │   └── TagError                a malformed tag mapping or card (nfc.tags)
    ├── AuthError                   signing in, or staying signed in
    │   ├── NotPairedError          no tokens yet: pair first
    │   ├── SignInExpiredError      refresh refused (revoked, six months old): pair again
    │   ├── SignInDeclinedError     the user said no on the phone (auth.device_flow)
    │   └── DeviceFlowNotAllowedError  unauthorized_client: the app may not use RFC 8628 (auth.device_flow)
    ├── SpotifyError                the Web API said no, or could not be reached
    │   ├── SpotifyUnavailableError network faults and 5xx, after retries
    │   ├── RateLimitedError        429 with a Retry-After too long to wait
    │   ├── PremiumRequiredError    403 PREMIUM_REQUIRED
    │   ├── RestrictedError         403 with another reason (device, volume, ...)
    │   ├── NoActiveDeviceError     404 NO_ACTIVE_DEVICE, and no device to wake
    │   │   ├── WhichDeviceError    ... several could be: ask the user which
    │   │   └── SpeakerAsleepError  ... the speaker named is the user's, but not listed now (actions.base)
    │   ├── SpotifyRequestError     any other 4xx
    │   └── SpotifyAnswerError      a 2xx answer of a shape Maestro cannot read
    ├── NotPlayingThereError        about what a speaker plays, for one that plays nothing (actions.base)
    ├── NotTakenError               a speaker answered a command and did not do it, read back (actions.base)
    ├── ReaderLost                  the NFC reader is unplugged, busy or not there (nfc.readers)
    ├── AlreadyRunningError         another daemon already runs on this state dir (box.lock)
    └── StoreUnavailableError       the bridge's grant store cannot be reached: Redis down (bridge.grants)
        └── StoreFullError          ... or refuses writes (maxmemory, a full disk)

Those with a module in brackets live beside the code that raises them.
Library errors (httpx, vosk, pocketsphinx, nfcpy, ...) are translated into this
tree where they cross an edge, with ``raise ... from exc``. Every message is fit
to be spoken to the user, and none carries a token, client secret or device code.
"""

from __future__ import annotations


class MaestroError(Exception):
    """A failure with a message meant for the user."""

    exit_code = 1


class UsageError(MaestroError):
    """Bad usage or bad input: the user can fix it by changing what they gave."""

    exit_code = 2


class ConfigError(UsageError):
    """config.toml or a MAESTRO_* environment variable is wrong."""


class AuthError(MaestroError):
    """Signing in to Spotify, or staying signed in, failed."""


class NotPairedError(AuthError):
    def __init__(self, message: str = "Maestro is not connected to Spotify yet. "
                 "Run maestro pair to connect it.") -> None:  # fmt: skip
        super().__init__(message)


class SignInExpiredError(AuthError):
    def __init__(self, message: str = "Spotify ended Maestro's sign-in. "
                 "Run maestro pair to pair again.") -> None:  # fmt: skip
        super().__init__(message)


class SpotifyError(MaestroError):
    """The Web API refused a request or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class SpotifyUnavailableError(SpotifyError):
    pass


class RateLimitedError(SpotifyError):
    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class PremiumRequiredError(SpotifyError):
    pass


class RestrictedError(SpotifyError):
    pass


class NoActiveDeviceError(SpotifyError):
    pass


class WhichDeviceError(NoActiveDeviceError):
    """No speaker is active and several could be: the user is asked which (and it is remembered)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"Which speaker: {_either(names)}?", status=404, reason="NO_ACTIVE_DEVICE")
        self.names = names


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


class SpotifyRequestError(SpotifyError):
    pass


class SpotifyAnswerError(SpotifyError):
    """A 2xx answer of a shape Maestro cannot read (not JSON, a list for an object, wrong types)."""

    def __init__(self, message: str = "Spotify sent an answer Maestro could not read.") -> None:
        super().__init__(message)
