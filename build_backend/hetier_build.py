"""hetier's build backend: setuptools' own (``setuptools.build_meta``), run so that its work
directories, ``build/`` and ``hetier.egg-info/``, go to a temporary folder instead of the source
tree (pip builds in place since 21.3, and setuptools has no option for it in pyproject.toml).

It points setuptools at an extra configuration file (``DIST_EXTRA_CONFIG``, read after
setup.cfg) that sets ``[build] build_base`` and ``[egg_info] egg_base`` for the duration of each
hook. Everything else is setuptools' unchanged.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from setuptools import build_meta as _setuptools


@contextlib.contextmanager
def _out_of_tree():
    with tempfile.TemporaryDirectory(prefix="hetier-build-") as d:
        cfg = os.path.join(d, "out-of-tree.cfg")
        with open(cfg, "w") as f:
            f.write(f"[build]\nbuild_base = {os.path.join(d, 'build')}\n[egg_info]\negg_base = {d}\n")
        before = os.environ.get("DIST_EXTRA_CONFIG")
        os.environ["DIST_EXTRA_CONFIG"] = cfg
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("DIST_EXTRA_CONFIG", None)
            else:
                os.environ["DIST_EXTRA_CONFIG"] = before


def get_requires_for_build_wheel(config_settings=None):
    with _out_of_tree():  # runs egg_info
        return _setuptools.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_sdist(config_settings=None):
    with _out_of_tree():
        return _setuptools.get_requires_for_build_sdist(config_settings)


def get_requires_for_build_editable(config_settings=None):
    with _out_of_tree():
        return _setuptools.get_requires_for_build_editable(config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with _out_of_tree():
        return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    with _out_of_tree():
        return _setuptools.build_sdist(sdist_directory, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    with _out_of_tree():
        return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    with _out_of_tree():
        return _setuptools.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    with _out_of_tree():
        return _setuptools.prepare_metadata_for_build_editable(metadata_directory, config_settings)
