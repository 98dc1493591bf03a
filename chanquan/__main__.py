from chanquan.cli import main

raise SystemExit(main())
