"""Backstage compatibility: read Backstage catalog descriptors into the catalog, write
catalog-info.yaml out of it.

refs.py parses entity references, loader.py reads YAML safely; importer.py runs an import:
planner.py maps documents to rows (no database), writer.py writes them in bulk, report.py is
what it found and did. exporter.py describes a service as a Backstage Component.
"""
