"""Model architectures: from a Hugging Face config to the primitive operations each GPU runs."""

from servecast.models.architecture import MlaDims, ModelArchitecture, MoeDims
from servecast.models.family import ModelFamily

__all__ = ["MlaDims", "ModelArchitecture", "ModelFamily", "MoeDims"]
