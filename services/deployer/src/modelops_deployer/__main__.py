"""Run the deployer service: `python -m modelops_deployer`."""

from modelops_deployer.app import create_app
from modelops_deployer.settings import DeployerSettings
from modelops_servicekit.runtime import serve


def main() -> None:
    settings = DeployerSettings()
    serve(create_app(settings), settings.http)


if __name__ == "__main__":
    main()
