"""The installed version of aioclarifai."""

__version__ = "0.1.0"
