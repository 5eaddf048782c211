from dist_llm_train.cli import main

raise SystemExit(main())
