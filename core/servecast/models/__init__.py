"""Model architectures: from a Hugging Face config to the primitive operations each GPU runs."""

from servecast.models.family import ModelFamily

__all__ = ["ModelFamily"]
