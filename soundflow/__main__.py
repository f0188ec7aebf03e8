from soundflow.cli import main

if __name__ == "__main__":  # Dask spawns worker processes that import __main__ again
    raise SystemExit(main())
