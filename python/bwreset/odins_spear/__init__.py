"""The published odins-spear library's bulk reset, on bwreset's engine: change the import line.

    from bwreset.odins_spear import API, Scripter   # was: from odins_spear import API, Scripter

    api = API(base_url="https://odin.example/api/v2", username="admin", password="...")
    assistant = Scripter(api)
    users = assistant.bulk_password_reset(
        service_provider_id="SP", group_id="G", users=["a@x", "b@x"], password_type="SIP"
    )

``API`` logs in when constructed (``OSApiAuthenticationFail`` when refused); ``base_url`` may
also be an ``ocips://host:2209`` or ``ocip://`` OCI-P server. ``bulk_password_reset`` returns
the seed's list, ``[{"userId", "newPassword"}]`` (``newPasscode`` for VM), in input order, for
the users set: a ``ResetResult``, a ``list`` with extra attributes (``failed``, ``uncertain``,
``journal``, ``stop_reason``). See ``Scripter.bulk_password_reset``. A call that cannot start
(unknown group, journal not writable) raises ``OSRunFailed``, an ``OSError`` as the library's
own exceptions are.
"""

from .api import API, ResetResult, Scripter, resume
from .exceptions import OSApiAuthenticationFail, OSError, OSInvalidPasswordType, OSRunFailed

__all__ = [
    "API",
    "Scripter",
    "ResetResult",
    "resume",
    "OSError",
    "OSApiAuthenticationFail",
    "OSInvalidPasswordType",
    "OSRunFailed",
]
