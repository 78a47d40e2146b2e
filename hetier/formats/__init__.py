"""The file formats that are the contract between hetier's parts.

``trace`` (schema, writer, reader), ``granularity`` (aggregation to tensor granularity),
``results`` (replay results) and ``identity`` (what ties a results file to its trace). They
import only the standard library, numpy, pyarrow and hetier's dependency-free base modules, so
the tracer, the simulator and analysis can share them without importing each other.
"""
