"""ganzoo's built-in plugins, installed as `ganzoo_plugins` and discovered through the `ganzoo` entry-point group."""
