"""What a CLI command needs, built once per process at the edge: settings, engine, sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hr.db import database_url, make_engine, make_sessionmaker
from hr.migrate import ensure_schema
from hr.settings import Settings


@dataclass
class Runtime:
    settings: Settings = field(default_factory=Settings)
    migrate: bool = True

    @cached_property
    def url(self) -> str:
        return database_url(self.settings)

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.settings, url=self.url)
        if self.migrate:
            ensure_schema(engine)
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)
