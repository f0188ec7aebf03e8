"""The pipeline layer: params composition, the stage registry, the runner, the DVC bridge, tracking,
operations, exports and the CLI. It imports the tasks and the models; nothing below imports it."""
