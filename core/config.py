"""Settings: one typed object read from the environment (and `.env`), never scattered `os.environ`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_SQLITE_PATH = DATA_DIR / "controltower.db"


class Settings(BaseSettings):
    """Runtime configuration. `DATABASE_URL` selects the store; the default is embedded SQLite."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    timezone: str = "America/New_York"
    session_hours: float = 12.0
    basemap_style: str = "road"  # a name from ui.maps.BASEMAPS (road, light, dark, blank) or a style URL
    dask_scheduler: str | None = None
    public_url: str = "http://localhost:8501"  # where customers reach the app: tracking links start here

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, url: str) -> str:
        if url.startswith("postgres://"):
            raise ValueError("DATABASE_URL must start with postgresql+psycopg://, not postgres://")
        if url.startswith("postgresql://"):
            return "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own `Settings`)."""
    return Settings()
