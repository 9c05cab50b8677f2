"""cadence: how healthy are your 1:1s?

The package reads as its architecture: ``connectors`` pull calendar events, ``store`` keeps them,
``pipeline`` turns them into figures, ``reports`` render the figures, ``cli`` ties it together.
``sandbox`` serves loopback stand-ins of the Google and Microsoft APIs for the demo and the tests.
"""

__version__ = "0.1.0"
