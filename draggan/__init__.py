"""DragGAN editor: drag engine, worker, GUI and CLI on top of the stylegan2 package."""

__version__ = "0.1.0"
