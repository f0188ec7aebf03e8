"""The workflows, one module each: its stages, its flow and its params sections (``WORKFLOW``).

Found by :func:`soundflow.pipeline.stages.discover`; a new module here is a new workflow everywhere.
"""
