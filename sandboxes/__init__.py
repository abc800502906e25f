"""Fake vendor servers on 127.0.0.1 (development and test tools, never part of
the production package): one module per vendor, speaking each vendor's
documented API with its rules and injectable faults. `make run` starts them
(run_demo); the tests start them in-process."""
