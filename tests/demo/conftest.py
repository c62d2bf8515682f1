from tests.demo.running import demo_env, started  # noqa: F401 - shared fixtures
