"""Run the builder service: `python -m modelops_builder`."""

from modelops_builder.app import create_app
from modelops_builder.settings import BuilderSettings
from modelops_servicekit.runtime import serve


def main() -> None:
    settings = BuilderSettings()
    serve(create_app(settings), settings.http)


if __name__ == "__main__":
    main()
