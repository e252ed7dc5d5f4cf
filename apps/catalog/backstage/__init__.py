"""Backstage compatibility: read Backstage catalog descriptors into the catalog, write
catalog-info.yaml out of it.

refs.py parses entity references, loader.py reads YAML safely, importer.py maps and writes,
exporter.py describes a service as a Backstage Component.
"""
