"""The declarative base shared by every table of hrbot.

Tables live next to the code that owns them (``retrieval.models`` for documents and chunks); this
module imports them so that ``Base.metadata`` is complete for Alembic.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


def load_all_models() -> type[Base]:
    import bot.chatstate.models  # noqa: F401
    import hr.audit.models
    import hr.hrdata.models  # noqa: F401
    import retrieval.models  # noqa: F401
    import workers.models  # noqa: F401  (registers the tables)

    return Base
