from gradeapp.cli import main

raise SystemExit(main())
