from soundflow.pipeline.cli import run_module

if __name__ == "__main__":  # Dask spawns worker processes that import __main__ again
    raise SystemExit(run_module())
