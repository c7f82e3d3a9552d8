"""hmob-gui: distil a CNN into a soft decision tree and watch it learn."""

__version__ = "0.1.0"
