"""Tools built on the layers below and never imported by them: benchmarks, reports and plots, the plugin scaffold."""
