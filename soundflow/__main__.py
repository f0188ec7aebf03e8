from soundflow.cli import main

raise SystemExit(main())
