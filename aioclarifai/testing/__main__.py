"""``python -m aioclarifai.testing``: run FakeClarifai until interrupted."""

from ._process import main

main()
