"""The C reader of samples (sysmon_magic/samples.c). Everything else is in pyproject.toml.

``optional=True``: where no C compiler is at hand the package installs without it, and
``sysmon_magic.fastjson`` reads samples with pandas' CSV reader instead (the same frames, slower,
and holding the GIL for part of the time).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("sysmon_magic.samples", ["sysmon_magic/samples.c"], optional=True)])
