"""Domain errors: each carries a sentence a dispatcher can read; pages catch only these."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RowError:
    """One reason an input row was refused: the file's line number (header = 1), field, why."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class ControlTowerError(Exception):
    """Base of every domain failure that a page or the CLI reports to a person."""


class StaleProposalError(ControlTowerError):
    """The plan moved since the proposal was built; applying it would overwrite someone's change."""


class AccessDeniedError(ControlTowerError):
    """The viewer may not see or change this object."""


class ImportRejectedError(ControlTowerError):
    """A CSV import was refused as a whole; `errors` lists every bad line and field."""

    def __init__(self, message: str, errors: list[RowError]) -> None:
        super().__init__(message)
        self.errors = errors


class ScenarioError(ControlTowerError):
    """The demo scenario cannot be generated or written (e.g. the database is not empty)."""
