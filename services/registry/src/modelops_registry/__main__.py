"""Run the registry service: `python -m modelops_registry`."""

from modelops_registry.app import create_app
from modelops_registry.settings import RegistrySettings
from modelops_servicekit.runtime import serve


def main() -> None:
    settings = RegistrySettings()
    serve(create_app(settings), settings.http)


if __name__ == "__main__":
    main()
